"""Set-based inserts whose statement is the same for every batch.

A multi-row ``INSERT … VALUES (…), (…)`` built from a list of rows is a new statement
for every batch: SQLAlchemy compiles it again each time (it cannot be cached), and
under ``users_add`` that compiling was about half of each projection's CPU. Here a
batch of any size is one array parameter a column, zipped by ``unnest``::

    INSERT INTO t (a, b) SELECT a, b FROM unnest(:each_a, :each_b) AS u(a, b)

so the statement is built once (at import), compiled once, and each batch is only its
parameters (:func:`unnest_params`). JSON columns travel as text and are cast.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, Insert, insert
from sqlalchemy.sql.dml import ReturningInsert

R = TypeVar("R", bound=Mapping[str, Any])


def _is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, JSON | JSONB | sa.JSON)


def unnest_insert(table: sa.Table, columns: Sequence[str]) -> Insert:
    """``INSERT INTO table (columns) SELECT … FROM unnest(…)``: PostgreSQL's ``insert``,
    so ``on_conflict_do_*`` and ``returning`` chain on as usual. Bind it with
    :func:`unnest_params` of the same table and columns."""
    arrays = [
        sa.bindparam(f"each_{c}", type_=ARRAY(sa.Text if _is_json(table.c[c]) else table.c[c].type))
        for c in columns
    ]
    rows = sa.func.unnest(*arrays).table_valued(*columns).render_derived()
    picked = [
        sa.cast(rows.c[c], table.c[c].type) if _is_json(table.c[c]) else rows.c[c] for c in columns
    ]
    return insert(table).from_select(list(columns), sa.select(*picked))


def unnest_params(
    table: sa.Table, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The parameters of :func:`unnest_insert`: one list a column (a column missing
    from a row is NULL; in a JSON column, JSON ``null``)."""
    rows = list(rows)
    params: dict[str, list[Any]] = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if _is_json(table.c[c]):
            values = [json.dumps(v) for v in values]  # None is JSON null, as SQLAlchemy's
        params[f"each_{c}"] = values
    return params


@functools.cache
def upsert_newer(
    table: sa.Table, columns: tuple[str, ...], *, ties: bool = False
) -> ReturningInsert[Any]:
    """The set-based upsert of rows giving ``columns``, on the table's primary key: a
    row replaces the stored one only when its ``version`` is newer (``ties``: or equal);
    then every given column is set and ``updated_at`` moves. Returns the rows written.
    Built once a shape (group the rows with :func:`by_shape`)."""
    ins = unnest_insert(table, columns)
    key = [c.name for c in table.primary_key.columns]
    newer = (
        table.c.version <= ins.excluded.version if ties else table.c.version < ins.excluded.version
    )
    return ins.on_conflict_do_update(
        index_elements=key,
        set_={c: ins.excluded[c] for c in columns if c not in key} | {"updated_at": sa.func.now()},
        where=newer,
    ).returning(table)


def by_shape(rows: Iterable[R]) -> dict[tuple[str, ...], list[R]]:
    """Rows grouped by the columns they give (sorted), in their order: one statement of
    :func:`upsert_newer` a group."""
    shapes: dict[tuple[str, ...], list[R]] = {}
    for row in rows:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    return shapes
