"""The hottest statements of provisioning, sent by asyncpg itself on the unit of
work's own connection, inside its open transaction.

SQLAlchemy's cost per statement (about 1 ms of CPU on the 2-core bench machine) was
most of ``users.add``'s CPU (docs/benchmarks.md). The services' raw pool
(``Service.pg``) is the same idea for reads outside a transaction; writes must stay
in the unit of work's transaction, so these borrow its connection instead. Errors
keep their meaning: a unique violation is the same ``conflict``, a lost connection is
invalidated and raised as SQLAlchemy's, so the request is retried once as before."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import sqlalchemy as sa
from shared.db import LOST, lost_as_sqlalchemy
from shared.errors import Conflict
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

_CONFLICTS = {
    "uq_users_exclusive_email": ("email", "This email already belongs to a user."),
    "uq_users_account_email": ("email", "This email already belongs to a user of this account."),
    "uq_extensions_number": ("extension_number", "This extension number is taken."),
    "uq_users_extension": ("extension_id", "This extension already has a user."),
    "uq_roles_account_name": ("name", "A role with this name exists."),
}


def conflict_from(exc: BaseException) -> Conflict:
    """A unique-index violation (SQLAlchemy's or asyncpg's) as a ``conflict`` naming
    the field (never the other row)."""
    text = str(getattr(exc, "orig", exc))
    for index, (fld, message) in _CONFLICTS.items():
        if index in text:
            return Conflict(message, {"field": fld})
    return Conflict("The change conflicts with existing data.")


async def _driver(session: AsyncSession) -> tuple[AsyncConnection, asyncpg.Connection]:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    pg: asyncpg.Connection = raw.driver_connection
    if not pg.is_in_transaction():
        # never autocommit: SQLAlchemy's adapter begins the transaction it will commit
        # (what it does before its own first statement); without that hook, a statement
        # of its own begins it (one statement and about 1 ms of CPU more)
        start = getattr(raw.dbapi_connection, "_start_transaction", None)
        if start is not None:
            async with _translated(conn, "BEGIN"):
                try:
                    await start()
                except Exception as exc:  # asyncpg's error, wrapped by the adapter
                    if isinstance(exc.__cause__, LOST):
                        raise exc.__cause__ from exc
                    raise
        else:
            await conn.execute(sa.select(sa.literal(1)))
    return conn, pg


@asynccontextmanager
async def _translated(conn: AsyncConnection, sql: str) -> AsyncIterator[None]:
    try:
        async with lost_as_sqlalchemy(conn, sql):
            yield
    except asyncpg.UniqueViolationError as exc:
        raise conflict_from(exc) from exc


async def fetch(session: AsyncSession, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn, pg = await _driver(session)
    async with _translated(conn, sql):
        rows: list[asyncpg.Record] = await pg.fetch(sql, *args)
    return rows


Rows = tuple[sa.Table, list[dict[str, Any]]]


async def insert_rows(
    session: AsyncSession, table: sa.Table, rows: list[dict[str, Any]], *more: Rows
) -> None:
    """New rows (all with the same keys) in one statement: one array parameter per
    column, ``unnest`` into rows. One round trip, no statement building per row. A
    unique violation fails the whole statement (no partial rows). ``more``: other
    tables' new rows, in the same statement (data-modifying ``WITH``)."""
    parts = [(t, r) for t, r in ((table, rows), *more) if r]
    if not parts:
        return
    inserts: list[str] = []
    args: list[list[Any]] = []
    for t, part in parts:
        columns = tuple(part[0])
        sql, as_json = _insert_sql(t, columns, len(args) + 1)
        inserts.append(sql)
        args += [
            [json.dumps(r[c]) if r[c] is not None else None for r in part]
            if c in as_json
            else [r[c] for r in part]
            for c in columns
        ]
    ctes = ", ".join(f"i{i} AS ({sql})" for i, sql in enumerate(inserts[:-1]))
    sql = (f"WITH {ctes} " if ctes else "") + inserts[-1]
    conn, pg = await _driver(session)
    async with _translated(conn, sql):
        await pg.execute(sql, *args)


@functools.cache
def _insert_sql(
    table: sa.Table, columns: tuple[str, ...], first: int = 1
) -> tuple[str, frozenset[str]]:
    as_json = frozenset(c for c in columns if isinstance(table.c[c].type, JSONB))
    arrays = ", ".join(
        f"${i}::{_PG_TYPES[type(table.c[c].type)]}[]" for i, c in enumerate(columns, first)
    )
    select = ", ".join(f"{c}::jsonb" if c in as_json else c for c in columns)
    sql = (
        # names from the table metadata only (table.c[c] refuses any other)
        f"INSERT INTO {table.name} ({', '.join(columns)})"  # noqa: S608
        f" SELECT {select} FROM unnest({arrays}) AS t({', '.join(columns)})"
    )
    return sql, as_json


_PG_TYPES: dict[type[Any], str] = {
    sa.String: "text",
    sa.Text: "text",
    sa.Boolean: "boolean",
    sa.Integer: "integer",
    sa.DateTime: "timestamptz",
    JSONB: "text",  # sent as JSON text, cast in the statement
}
