"""Refused attempts change nothing in any database (issue 9, "Done when").

:func:`snapshot` reads every domain table of the four service databases;
:func:`unchanged` takes one before and after an attempt and asserts they are equal:

    async with unchanged(system):
        ...  # refused attempts

What is left out, because it legitimately moves in the background while nothing is
being changed (decided here, once):

- whole tables ``outbox`` (the relay marks rows published, prunes old ones),
  ``inbox`` (consumers record handled message ids: a refused directory request is
  handled, and its outcome event is recorded there) and ``alembic_version``;
- ``invites.lease_until`` / ``invites.lease_id`` (invite scheduler: a sending slot's
  lease) and ``import_items.retry_at`` (engage import: when an item waiting for a user
  is tried again).

Everything else is compared, ``dead_letters`` and identity's ``login_throttle``
included: a refused attempt must not dead-letter anything, and the attempts these
tests make are not sign-ins.

Background work of earlier steps (events still travelling between services, invites
being sent) would make a comparison flaky, so :func:`quiesce` first waits until
every durable consumer of every stream has nothing pending or unacknowledged and no
outbox row is waiting to be published, and then until two snapshots in a row are
equal; the "before" and the "after" snapshot are both taken that way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import nats.js.errors
import sqlalchemy as sa

from tests.support.system import System

SKIPPED_TABLES = frozenset({"outbox", "inbox", "alembic_version"})
SKIPPED_COLUMNS = frozenset(
    {("invites", "lease_until"), ("invites", "lease_id"), ("import_items", "retry_at")}
)

#: database -> table -> sorted rows (each row a tuple of the column values' reprs)
Snapshot = dict[str, dict[str, list[tuple[str, ...]]]]


def _sessions(system: System, name: str) -> Any:
    sessions = system.services[name].sessions
    assert sessions is not None, f"{name} has no database session"
    return sessions


async def snapshot(system: System) -> Snapshot:
    """Every domain table of every service database, rows sorted."""
    out: Snapshot = {}
    for name in system.services:
        async with _sessions(system, name)() as s:
            cols = (
                await s.execute(
                    sa.text(
                        "SELECT c.table_name, c.column_name FROM information_schema.columns c"
                        " JOIN information_schema.tables t"
                        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
                        " ORDER BY c.table_name, c.ordinal_position"
                    )
                )
            ).all()
            tables: dict[str, list[str]] = {}
            for table, column in cols:
                if table in SKIPPED_TABLES or (table, column) in SKIPPED_COLUMNS:
                    continue
                tables.setdefault(table, []).append(column)
            db: dict[str, list[tuple[str, ...]]] = {}
            for table, columns in tables.items():
                listed = ", ".join(f'"{c}"' for c in columns)
                rows = (await s.execute(sa.text(f'SELECT {listed} FROM "{table}"'))).all()
                db[table] = sorted(tuple(repr(v) for v in row) for row in rows)
            out[name] = db
    return out


async def _busy(system: System) -> list[str]:
    """What is still in flight: unpublished outbox rows, messages a durable consumer
    has not handled yet."""
    busy: list[str] = []
    for name in system.services:
        async with _sessions(system, name)() as s:
            n = (
                await s.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
            ).scalar_one()
            if n:
                busy.append(f"{name}: {n} outbox row(s) unpublished")
    # the running services' own durable consumers only: a test's ordered reader, the
    # revocation watches (heartbeats never stop) and consumers other tests left behind
    # are not work in flight
    js = system.harness_nc.jetstream()
    for svc in system.services.values():
        for runner in svc.runners.values():
            try:
                ci = await js.consumer_info(runner.sub.stream, runner.sub.name)
            except nats.js.errors.NotFoundError:
                busy.append(f"{runner.sub.stream}/{runner.sub.name}: not created yet")
                continue
            if ci.num_pending or ci.num_ack_pending:
                busy.append(
                    f"{runner.sub.stream}/{ci.name}: {ci.num_pending} pending,"
                    f" {ci.num_ack_pending} unacked"
                )
    return busy


async def quiesce(system: System, timeout: float = 60.0) -> Snapshot:
    """Wait until nothing is in flight (best effort, up to ``timeout``: a message
    being retried for minutes does not block the test) and until two snapshots in a
    row are equal; return that snapshot."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await _busy(system) and loop.time() < deadline:
        await asyncio.sleep(0.1)
    last = await snapshot(system)
    while True:
        await asyncio.sleep(0.3)
        now = await snapshot(system)
        if now == last:
            return now
        if loop.time() > deadline:
            raise AssertionError(f"the databases never settled: {diff(last, now)}")
        last = now


def diff(before: Snapshot, after: Snapshot, limit: int = 20) -> list[str]:
    """Human-readable differences (rows gone and rows new, per table)."""
    out: list[str] = []
    for db in sorted(set(before) | set(after)):
        b, a = before.get(db, {}), after.get(db, {})
        for table in sorted(set(b) | set(a)):
            old, new = set(b.get(table, [])), set(a.get(table, []))
            out += [f"{db}.{table} -{row}" for row in sorted(old - new)]
            out += [f"{db}.{table} +{row}" for row in sorted(new - old)]
    return out[:limit]


def _without(snap: Snapshot, tables: frozenset[str]) -> Snapshot:
    return {
        db: {t: rows for t, rows in content.items() if f"{db}.{t}" not in tables}
        for db, content in snap.items()
    }


@asynccontextmanager
async def unchanged(system: System, *, allow: tuple[str, ...] = ()) -> AsyncIterator[Snapshot]:
    """Assert that nothing in the block changes any domain table of any database
    (see the module's docstring for what is left out and why). ``allow`` names
    tables (``identity.provisioning_requests``) a test expects to change; the
    caller checks those itself."""
    allowed = frozenset(allow)
    before = _without(await quiesce(system), allowed)
    yield before
    after = _without(await quiesce(system), allowed)
    assert after == before, "refused attempts changed the databases:\n" + "\n".join(
        diff(before, after)
    )
