"""An in-memory unit of work and dependencies for identity's provisioning use cases
(users.add and its kin, users.update): the repositories they need, over plain dicts
(no servers).
Rolls back unless committed, as the real one does."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Self, cast

from identity.handlers import Deps
from identity.ports import References, UnitOfWork

Row = dict[str, Any]


class State:
    """Everything the fake database holds, and what was published."""

    def __init__(self) -> None:
        self.accounts: dict[str, Row] = {}
        self.extensions: dict[str, Row] = {}
        self.users: dict[str, Row] = {}
        self.events: list[Any] = []
        self.locked = False  # an account or user row lock held by the open unit of work

    def subjects(self) -> list[str]:
        return [e.subject for e in self.events]


class FakeAccounts:
    def __init__(self, st: State) -> None:
        self.st = st

    async def get(self, account_id: str, *, lock: bool = False) -> Row | None:
        self.st.locked = self.st.locked or lock
        return self.st.accounts.get(account_id)

    async def existing_sites(self, account_id: str, ids: Iterable[str]) -> dict[str, str | None]:
        return {}

    async def existing_cost_centers(self, account_id: str, ids: Iterable[str]) -> set[str]:
        return set()

    async def references(
        self,
        account_id: str,
        *,
        sites: Iterable[str],
        cost_centers: Iterable[str],
        numbers: Iterable[str],
        lock_emails: Iterable[str],
        free_in: tuple[int, int] = (0, 0),
        free_count: int = 0,
    ) -> References:
        numbers = list(numbers)
        taken = {e["number"] for e in self.st.extensions.values() if e["account_id"] == account_id}
        free = await FakeExtensions(self.st).next_free(account_id, *free_in, free_count, numbers)
        return References([], {}, set(), set(numbers) & taken, free)


class FakeRoles:
    async def for_account(self, account_id: str) -> list[Row]:
        return []


class FakeExtensions:
    def __init__(self, st: State) -> None:
        self.st = st

    def _numbers(self, account_id: str) -> set[str]:
        return {e["number"] for e in self.st.extensions.values() if e["account_id"] == account_id}

    async def taken(self, account_id: str, numbers: Iterable[str]) -> set[str]:
        return set(numbers) & self._numbers(account_id)

    async def next_free(
        self, account_id: str, lo: int, hi: int, count: int, exclude: Iterable[str]
    ) -> list[str]:
        used = self._numbers(account_id) | set(exclude)
        return [str(n) for n in range(lo, hi + 1) if str(n) not in used][:count]

    async def insert_many(self, rows: list[Row]) -> None:
        for r in rows:
            self.st.extensions[r["id"]] = dict(r)

    async def update(self, extension_id: str, **values: Any) -> None:
        self.st.extensions[extension_id] |= values


class FakeUsers:
    def __init__(self, st: State, fail_insert: Exception | None) -> None:
        self.st = st
        self.fail_insert = fail_insert

    async def lock_emails(self, emails: Iterable[str]) -> None:
        return None

    async def holders(self, emails: Iterable[str]) -> list[Row]:
        keys = {e.lower() for e in emails}
        return [
            {"email": u["email"].lower(), "account_id": u["account_id"], "exclusive_email": False}
            for u in self.st.users.values()
            if u["email"].lower() in keys
        ]

    async def insert_many(self, rows: list[Row], new_extensions: list[Row] | None = None) -> None:
        if self.fail_insert is not None:
            raise self.fail_insert
        for e in new_extensions or []:
            self.st.extensions[e["id"]] = dict(e)
        for r in rows:
            self.st.users[r["id"]] = dict(r)

    async def get(self, account_id: str, user_id: str, *, lock: bool = False) -> Row | None:
        self.st.locked = self.st.locked or lock
        row = self.st.users.get(user_id)
        return copy.deepcopy(row) if row and row["account_id"] == account_id else None

    async def update(self, user_id: str, values: Row) -> Row:
        row = self.st.users[user_id]
        row |= copy.deepcopy(values) | {"version": row.get("version", 1) + 1}
        return copy.deepcopy(row)

    async def count_enabled_with_roles(
        self, account_id: str, role_ids: list[str], exclude_user_id: str
    ) -> int:
        return sum(
            u["account_id"] == account_id
            and u["id"] != exclude_user_id
            and u["role_id"] in role_ids
            for u in self.st.users.values()
        )


class FakeUow:
    def __init__(self, st: State, *, fail_insert: Exception | None = None) -> None:
        self.st = st
        self.fail_insert = fail_insert
        self.committed = 0

    async def __aenter__(self) -> Self:
        self._saved = copy.deepcopy(
            (self.st.accounts, self.st.extensions, self.st.users, self.st.events)
        )
        self._events: list[Any] = []
        self.accounts = FakeAccounts(self.st)
        self.roles = FakeRoles()
        self.extensions = FakeExtensions(self.st)
        self.users = FakeUsers(self.st, self.fail_insert)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.st.locked = False  # the transaction's locks end with it
        if exc and exc[0] is not None:
            self.st.accounts, self.st.extensions, self.st.users, self.st.events = self._saved

    def add_event(self, event: object) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        self.st.events += self._events
        self._events = []
        self.committed += 1


class FakeHasher:
    async def hash(self, secret: str) -> str:
        return f"hashed:{len(secret)}"

    async def verify(self, hashed: str | None, secret: str) -> bool:
        return hashed == f"hashed:{len(secret)}"

    def needs_rehash(self, hashed: str) -> bool:
        return False


class FakeInventory:
    """Allocates every item asked for (a license, a number ``+1617555000n``)."""

    def __init__(self, st: State | None = None) -> None:
        self.st = st
        self.allocated: list[Row] = []
        self.released: list[str] = []

    async def allocate(self, *, request_id: str, items: list[Row], **_: Any) -> Row:
        locked = self.st.locked if self.st is not None else None
        self.allocated.append({"request_id": request_id, "items": items, "while_locked": locked})
        return {"allocations": [dict(i) for i in items]}

    async def release(self, request_id: str) -> None:
        self.released.append(request_id)


def deps(inventory: FakeInventory) -> Deps:
    return Deps(
        hasher=FakeHasher(),
        signer=cast(Any, None),
        inventory=inventory,
        invitations=cast(Any, None),
    )


def uow(st: State, **kw: Any) -> UnitOfWork:
    return cast(UnitOfWork, FakeUow(st, **kw))


def account(st: State, account_id: str = "acc_1", **over: Any) -> Row:
    row: Row = {
        "account_id": account_id,
        "plan": "core",
        "status": "Active",
        "multi_site": False,
        "extension_length": 4,
        "require_unique_email": True,
        "default_role_id": None,
        "facts": {"user_types": ["standard", "mobile"], "country": "US"},
    } | over
    st.accounts[account_id] = row
    return row
