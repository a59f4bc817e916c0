"""shared.bulk against a real PostgreSQL: rows of every column type the services bind
(text, boolean, integer, timestamptz, JSON, NULLs) arrive as they were given, conflicts
resolve as with a multi-row VALUES, and batches of any size share one compiled form."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from shared.bulk import by_shape, unnest_insert, unnest_params, upsert_newer
from shared.db import database_url_for, ensure_database, make_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.infra import Infra

meta = sa.MetaData()
things = sa.Table(
    "bulk_things",
    meta,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=True),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("tags", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)
COLUMNS = ("id", "name", "flag", "version", "at", "tags")


def _upsert() -> Any:
    ins = unnest_insert(things, COLUMNS)
    return ins.on_conflict_do_update(
        index_elements=[things.c.id],
        set_={"name": ins.excluded.name, "version": ins.excluded.version},
        where=things.c.version < ins.excluded.version,
    ).returning(things.c.id)


UPSERT = _upsert()


@pytest.fixture
async def engine(infra: Infra) -> AsyncIterator[AsyncEngine]:
    url = database_url_for(infra.database_url, "bulk_test")
    await ensure_database(url)
    eng = make_engine(url)
    async with eng.begin() as conn:
        await conn.run_sync(meta.drop_all)
        await conn.run_sync(meta.create_all)
    yield eng
    await eng.dispose()


def _row(i: int, **over: Any) -> dict[str, Any]:
    return {
        "id": f"t{i}",
        "name": f"Thing {i}" if i % 2 else None,
        "flag": bool(i % 2),
        "version": 1,
        "at": datetime(2026, 11, 24, 7, i, tzinfo=UTC) if i % 3 else None,
        "tags": {"n": i, "list": [i, "x"]} if i % 4 else [],
    } | over


async def test_rows_of_every_type_arrive_as_given(engine: AsyncEngine) -> None:
    rows = [_row(i) for i in range(7)]
    async with engine.begin() as conn:
        got = (await conn.execute(UPSERT, unnest_params(things, COLUMNS, rows))).scalars().all()
        picked = sa.select(*(things.c[c] for c in COLUMNS)).order_by(things.c.id)
        stored = (await conn.execute(picked)).all()
    assert sorted(got) == sorted(r["id"] for r in rows)
    assert [dict(r._mapping) for r in stored] == sorted(rows, key=lambda r: r["id"])


async def test_conflicts_resolve_per_row_as_with_values(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(UPSERT, unnest_params(things, COLUMNS, [_row(1), _row(2)]))
        newer, older = _row(1, name="renamed", version=2), _row(2, name="stale", version=0)
        got = (
            (await conn.execute(UPSERT, unnest_params(things, COLUMNS, [newer, older, _row(3)])))
            .scalars()
            .all()
        )
        names = dict((await conn.execute(sa.select(things.c.id, things.c.name))).all())
    assert sorted(got) == ["t1", "t3"]  # the older version changed nothing
    assert names == {"t1": "renamed", "t2": None, "t3": "Thing 3"}


async def test_batches_of_any_size_share_one_compiled_statement(engine: AsyncEngine) -> None:
    cache: dict[Any, Any] = {}
    async with engine.begin() as conn:
        conn = await conn.execution_options(compiled_cache=cache)
        for size in (1, 5, 60):
            rows = [_row(i, id=uuid.uuid4().hex) for i in range(size)]
            await conn.execute(UPSERT, unnest_params(things, COLUMNS, rows))
        assert len(cache) == 1
        assert (await conn.scalar(sa.select(sa.func.count()).select_from(things))) == 66


async def test_upsert_newer_keeps_the_newest_version_per_shape(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(UPSERT, unnest_params(things, COLUMNS, [_row(1), _row(2)]))
        some = ("flag", "id", "name", "tags", "version")
        rows = [
            {"id": "t1", "name": "same version", "version": 1, "flag": True, "tags": []},
            {"id": "t2", "name": "newer", "version": 2, "flag": True, "tags": [], "at": None},
        ]
        shapes = by_shape(rows)
        assert list(shapes) == [some, ("at", *some)]
        written = []
        for keys, group in shapes.items():
            got = await conn.execute(upsert_newer(things, keys), unnest_params(things, keys, group))
            written += [r.id for r in got]
        assert written == ["t2"]  # a tie does not replace the stored row
        tie = rows[0] | {"name": "tie wins"}
        params = unnest_params(things, some, [tie])
        got = await conn.execute(upsert_newer(things, some, ties=True), params)
        assert [(r.id, r.name, r.updated_at is not None) for r in got] == [("t1", "tie wins", True)]
        names = dict((await conn.execute(sa.select(things.c.id, things.c.name))).all())
    assert names == {"t1": "tie wins", "t2": "newer"}
