"""An in-memory unit of work for the engage-import handlers: the repositories the
import use case needs, over plain dicts (no servers). Rolls back unless committed,
as the real one does."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

Row = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


class State:
    """Everything the fake database holds."""

    def __init__(self) -> None:
        self.links: dict[str, Row] = {}
        self.roles: dict[tuple[str, str], Row] = {}
        self.named: dict[str, dict[str, Row]] = {"teams": {}, "categories": {}}
        self.directory: dict[str, Row] = {}
        self.agents: dict[str, Row] = {}
        self.jobs: dict[str, Row] = {}
        self.items: dict[str, list[Row]] = {}
        self.events: list[Any] = []


class FakeLinks:
    def __init__(self, st: State) -> None:
        self.st = st

    async def get(self, engage_account_id: str, *, for_update: bool = False) -> Row | None:
        return self.st.links.get(engage_account_id)


class FakeCatalog:
    def __init__(self, st: State) -> None:
        self.st = st

    async def role(self, engage_account_id: str, role_id: str) -> Row | None:
        return self.st.roles.get((engage_account_id, role_id))

    async def existing_named(
        self, kind: str, engage_account_id: str, ids: Iterable[str]
    ) -> set[str]:
        table = self.st.named[kind]
        return {i for i in ids if i in table and table[i]["engage_account_id"] == engage_account_id}


class FakeDirectory:
    def __init__(self, st: State) -> None:
        self.st = st

    async def lookup(self, user_ids: list[str]) -> dict[str, Row]:
        return {u: dict(self.st.directory[u]) for u in user_ids if u in self.st.directory}


class FakeAgents:
    def __init__(self, st: State) -> None:
        self.st = st

    def _of(self, engage_account_id: str) -> list[Row]:
        return [a for a in self.st.agents.values() if a["engage_account_id"] == engage_account_id]

    async def by_users(self, engage_account_id: str, user_ids: list[str]) -> dict[str, Row]:
        return {a["user_id"]: a for a in self._of(engage_account_id) if a["user_id"] in user_ids}

    async def taken_usernames(self, engage_account_id: str, bases: Iterable[str]) -> set[str]:
        wanted = set(bases)
        return {a["username"] for a in self._of(engage_account_id) if a["username_base"] in wanted}

    async def insert_many(self, rows: list[Row]) -> set[str]:
        inserted: set[str] = set()
        for row in rows:
            if not await self.by_users(row["engage_account_id"], [row["user_id"]]):
                self.st.agents[row["id"]] = row | {"created_at": _now(), "status": "Enabled"}
                inserted.add(row["user_id"])
        return inserted


class FakeImports:
    def __init__(self, st: State) -> None:
        self.st = st

    async def add_job(self, row: Row, user_ids: list[str]) -> Row:
        job = {"processed": 0, "imported": 0, "already_imported": 0, "rejected": 0}
        job |= row | {"created_at": _now(), "started_at": None, "finished_at": None}
        self.st.jobs[row["id"]] = job
        self.st.items[row["id"]] = [
            {"import_id": row["id"], "seq": i, "user_id": u, "status": "pending", "retry_at": None}
            for i, u in enumerate(user_ids)
        ]
        return dict(job)

    async def get_job(self, import_id: str) -> Row | None:
        job = self.st.jobs.get(import_id)
        return dict(job) if job else None

    def _ready(self, item: Row) -> bool:
        return item["status"] == "pending" and (
            item["retry_at"] is None or item["retry_at"] <= _now()
        )

    async def claim_job(self) -> Row | None:
        for job in sorted(self.st.jobs.values(), key=lambda j: (j["created_at"], j["id"])):
            items = self.st.items[job["id"]]
            pending = [i for i in items if i["status"] == "pending"]
            if job["status"] != "finished" and (not pending or any(map(self._ready, pending))):
                return dict(job)
        return None

    async def pending_items(self, import_id: str, limit: int) -> list[Row]:
        ready = [i for i in self.st.items[import_id] if self._ready(i)]
        return [{"seq": i["seq"], "user_id": i["user_id"]} for i in ready[:limit]]

    async def defer_items(self, import_id: str, seqs: list[int], seconds: float) -> None:
        for item in self.st.items[import_id]:
            if item["seq"] in seqs:
                item["retry_at"] = datetime.max.replace(tzinfo=UTC)  # not due in a test

    async def set_results(self, import_id: str, results: list[Row]) -> None:
        by_seq = {i["seq"]: i for i in self.st.items[import_id]}
        for r in results:
            by_seq[r["seq"]].update({k: v for k, v in r.items() if k != "seq"})

    async def update_job(self, import_id: str, values: Row) -> Row:
        self.st.jobs[import_id].update(values)
        return dict(self.st.jobs[import_id])

    async def items(
        self, import_id: str, *, after: int | None, status: str | None, limit: int
    ) -> list[Row]:
        rows = [
            dict(i)
            for i in self.st.items[import_id]
            if (after is None or i["seq"] > after) and (status is None or i["status"] == status)
        ]
        return rows[:limit]


class FakeUnitOfWork:
    """``async with uow:`` works on a copy of the state; ``commit`` keeps it."""

    def __init__(self, state: State | None = None) -> None:
        self.committed = state or State()
        self.commits = 0
        self._work: State = self.committed
        self._events: list[Any] = []

    def _bind(self, st: State) -> None:
        self._work = st
        self.links = FakeLinks(st)
        self.catalog = FakeCatalog(st)
        self.directory = FakeDirectory(st)
        self.agents = FakeAgents(st)
        self.imports = FakeImports(st)

    async def __aenter__(self) -> Self:
        self._bind(copy.deepcopy(self.committed))
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bind(self.committed)  # anything not committed is gone

    def add_event(self, event: object) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        self._work.events.extend(self._events)
        self._events = []
        self.committed = self._work
        self.commits += 1
