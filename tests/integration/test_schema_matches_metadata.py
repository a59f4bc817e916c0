"""The schema is declared once: after upgrading to head, each service's database is
exactly what its ``adapters/tables.py`` metadata declares (the messaging tables
included): tables, columns, types, nullability, server defaults, indexes, unique,
primary-key, foreign-key and check constraints, with the same names.

Two comparisons, each failing with the list of differences:

1. Alembic's autogenerate comparison (``compare_metadata``, with ``compare_type``
   and ``compare_server_default``): what ``alembic revision --autogenerate`` would
   write. An index dropped from ``tables.py``, or one a migration adds that the
   metadata lacks, fails here.
2. A twin database built from the metadata alone (``metadata.create_all``), compared
   with the migrated one as PostgreSQL itself prints them (``pg_indexes.indexdef``,
   ``pg_get_constraintdef``, ``information_schema.columns``). This covers what
   Alembic does not compare: partial-index predicates (``postgresql_where``, the
   ``WHERE`` of a once-per-cycle or cross-account unique index), ``USING`` and
   ``INCLUDE``, check constraints, and column defaults without Alembic's
   normalisation guesses.

Exclusions, deliberate: only Alembic's own ``alembic_version`` table (bookkeeping,
not part of any service's schema). ``KNOWN_FALSE_POSITIVES`` is empty: the metadata
is written so that Alembic's comparison of server defaults and expression indexes
reports nothing when there is nothing (defaults spelled as the migrations spell
them; expression indexes as ``sa.text`` on the same columns).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from shared.db import database_url_for, ensure_database, to_asyncpg_url
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.support.infra import Infra
from tests.support.system import uid

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "account": "account",
    "identity": "identity",
    "invite-scheduler": "invite_scheduler",
    "engage-import": "engage_import",
}
BOOKKEEPING = "alembic_version"

# Differences Alembic reports that are not differences, each with why. Empty: fix the
# metadata rather than add here.
KNOWN_FALSE_POSITIVES: list[tuple[str, str]] = []


def alembic_config(service: str, url: str) -> Config:
    ini = ROOT / "services" / service / "alembic.ini"
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", to_asyncpg_url(url))
    return cfg


def service_metadata(service: str) -> sa.MetaData:
    module = importlib.import_module(f"{PACKAGES[service]}.adapters.tables")
    metadata: sa.MetaData = module.metadata
    return metadata


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (type_ == "table" and name == BOOKKEEPING)


def alembic_diff(conn: Connection, metadata: sa.MetaData) -> list[Any]:
    ctx = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _include_object,
        },
    )
    found = list(compare_metadata(ctx, metadata))
    return [d for d in found if not any(key in repr(d) for key, _ in KNOWN_FALSE_POSITIVES)]


async def fresh_database(infra: Infra, prefix: str, service: str) -> str:
    url = database_url_for(infra.database_url, f"{uid(prefix)}_{service.replace('-', '_')}")
    await ensure_database(url)
    return url


async def schema_as_postgres_prints_it(conn: AsyncConnection) -> dict[str, str]:
    """Every index, constraint and column of the public schema, keyed by what names it."""
    out: dict[str, str] = {}
    rows = await conn.execute(
        sa.text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND tablename <> :skip"
        ),
        {"skip": BOOKKEEPING},
    )
    for table, name, definition in rows:
        out[f"index {table}.{name}"] = definition
    rows = await conn.execute(
        sa.text(
            "SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid) "
            "FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid "
            "WHERE con.connamespace = 'public'::regnamespace AND rel.relname <> :skip"
        ),
        {"skip": BOOKKEEPING},
    )
    for table, name, definition in rows:
        out[f"constraint {table}.{name}"] = definition
    rows = await conn.execute(
        sa.text(
            "SELECT table_name, column_name, data_type, character_maximum_length, "
            "is_nullable, column_default, is_identity, identity_generation "
            "FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> :skip"
        ),
        {"skip": BOOKKEEPING},
    )
    for table, column, *rest in rows:
        out[f"column {table}.{column}"] = repr(tuple(rest))
    return out


def differences(migrated: dict[str, str], declared: dict[str, str]) -> list[str]:
    out = []
    for key in sorted(migrated.keys() | declared.keys()):
        m, d = migrated.get(key), declared.get(key)
        if m != d:
            out.append(f"{key}:\n      migrations: {m}\n      tables.py:  {d}")
    return out


@pytest.fixture(params=list(PACKAGES))
async def service(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    yield request.param


async def migrated_to_head(infra: Infra, service: str) -> str:
    url = await fresh_database(infra, "schema", service)
    await asyncio.to_thread(command.upgrade, alembic_config(service, url), "head")
    return url


async def test_alembic_finds_no_difference_between_migrations_and_metadata(
    infra: Infra, service: str
) -> None:
    url = await migrated_to_head(infra, service)
    engine = create_async_engine(to_asyncpg_url(url))
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(alembic_diff, service_metadata(service))
    finally:
        await engine.dispose()
    report = "\n".join(f"  {d!r}" for d in found)
    assert not found, (
        f"{service}: the migrated schema and adapters/tables.py differ ({len(found)}); "
        f"declare it in tables.py or add a migration:\n{report}"
    )


async def test_indexes_constraints_and_columns_are_those_the_metadata_creates(
    infra: Infra, service: str
) -> None:
    """Partial-index predicates, check constraints and defaults, which Alembic does not
    compare: the migrated database against a twin made by ``metadata.create_all``."""
    migrated_url = await migrated_to_head(infra, service)
    twin_url = await fresh_database(infra, "twin", service)
    schemas = []
    for url, build in ((migrated_url, False), (twin_url, True)):
        engine = create_async_engine(to_asyncpg_url(url))
        try:
            async with engine.begin() as conn:
                if build:
                    await conn.run_sync(service_metadata(service).create_all)
                schemas.append(await schema_as_postgres_prints_it(conn))
        finally:
            await engine.dispose()
    found = differences(*schemas)
    report = "\n".join(f"  {d}" for d in found)
    assert not found, f"{service}: migrations and tables.py differ ({len(found)}):\n{report}"
