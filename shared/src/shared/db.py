"""Database plumbing: one PostgreSQL database per service, async SQLAlchemy 2."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)


def to_asyncpg_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` -> ``postgresql+asyncpg://``."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def to_plain_url(url: str) -> str:
    """``postgresql+asyncpg://`` -> ``postgresql://`` (for asyncpg itself)."""
    return "postgresql://" + to_asyncpg_url(url)[len("postgresql+asyncpg://") :]


def database_url_for(server_url: str, database: str) -> str:
    """The URL of ``database`` on the server named by ``server_url``."""
    parts = urlsplit(to_asyncpg_url(server_url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    name = database_name(url)
    admin = urlunsplit(urlsplit(to_plain_url(url))._replace(path="/postgres"))
    conn = await asyncpg.connect(admin)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # two replicas creating it at once: one fails on the catalogue's unique index
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


#: Every statement planned for its own parameters. A prepared statement's generic plan
#: is fixed from the table's size when it was chosen: a service that starts on empty
#: tables kept sequential scans (looking up 100 users by primary key took 60 to 110 ms
#: at 60,000 rows in `make bench`) until something invalidated the plan. Planning these
#: short statements costs microseconds.
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """No pre-ping (it costs a round trip per checkout): a connection found dead is
    invalidated by SQLAlchemy, and the RPC layer retries that request once
    (:func:`is_connection_lost`). ``hide_parameters``: a failed statement's error (and
    so any log of it) never shows its parameters, which may be credential hashes."""
    return create_async_engine(
        to_asyncpg_url(url),
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": SERVER_SETTINGS},
    )


#: asyncpg's errors for a connection that is gone (PostgreSQL restarted, network)
LOST = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


@contextlib.asynccontextmanager
async def lost_as_sqlalchemy(conn: AsyncConnection, sql: str) -> AsyncIterator[None]:
    """For a statement sent by asyncpg itself on ``conn``'s connection: a lost
    connection is invalidated and raised as SQLAlchemy's would be, so the request is
    retried once (:func:`is_connection_lost`) as after any other statement."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except LOST as exc:
        await conn.invalidate()
        raise DBAPIError(sql, None, exc, connection_invalidated=True) from exc


def is_connection_lost(exc: BaseException) -> bool:
    """The database connection died under this request (e.g. PostgreSQL restarted)."""
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class _PlainConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset query (``RESET ALL``,
    ``UNLISTEN *``, unlocking advisory locks...): one round trip less a request. An open
    transaction is still rolled back on release; nothing on these connections keeps
    session state (no ``SET``, ``LISTEN`` or session-level advisory lock)."""

    def get_reset_query(self) -> str:
        return ""


async def make_raw_pool(url: str, size: int = 4) -> asyncpg.Pool:
    """A small asyncpg pool for the hottest queries, where SQLAlchemy's per-statement
    cost (about 1 ms) would dominate. JSON columns come back decoded. Its connections
    keep no session state (:class:`_PlainConnection`). Unlike the engine's, they keep
    PostgreSQL's plan caching (no :data:`SERVER_SETTINGS`): what they run are
    primary-key lookups, whose generic plan is the index whatever the table's size,
    and planning each anew cost ``accounts.get`` about 30 us (0.75 against 0.78 ms
    p50, A/B in `make bench`)."""

    async def init(conn: asyncpg.Connection) -> None:
        for kind in ("json", "jsonb"):
            await conn.set_type_codec(
                kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )

    return await asyncpg.create_pool(
        to_plain_url(url),
        min_size=1,
        max_size=size,
        init=init,
        connection_class=_PlainConnection,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def run_migrations(alembic_ini: Path, url: str, revision: str = "head") -> None:
    """Apply the service's Alembic migrations (blocking; call before the service starts)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", to_asyncpg_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)


# pg_advisory_lock key of migrations (advisory locks are per database)
MIGRATION_LOCK = 0x6D696772  # "migr"


async def migrate(alembic_ini: Path, url: str, revision: str = "head") -> None:
    """Create the database if needed and apply the migrations, holding a PostgreSQL
    advisory lock: replicas starting together migrate one after the other (the
    later ones find nothing to do)."""
    await ensure_database(url)
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await asyncio.to_thread(run_migrations, alembic_ini, url, revision)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()


class UnitOfWork:
    """One database transaction: ``async with uow: ... await uow.commit()``.

    Leaving the block without ``commit()`` rolls back. Events recorded with
    :meth:`add_event` are written to the outbox in the same transaction, and the
    relay is woken once the transaction has committed.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        on_commit: object = None,
        *,
        read_only: bool = False,
    ) -> None:
        self._sessions = sessions
        self._on_commit = on_commit
        self.read_only = read_only
        self.session: AsyncSession
        self._events: list[object] = []

    async def __aenter__(self) -> Self:
        self._events = []
        self.session = self._sessions()
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.session.in_transaction():
                await self.session.rollback()
        finally:
            await self.session.close()

    def add_event(self, event: object) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        from shared.messaging.outbox import write_events

        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        if self._events:
            await write_events(self.session, self._events)  # type: ignore[arg-type]
            self._events = []
        await self.session.commit()
        if callable(self._on_commit):
            self._on_commit()

    async def rollback(self) -> None:
        await self.session.rollback()
        self._events = []
