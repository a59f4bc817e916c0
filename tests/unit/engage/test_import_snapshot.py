"""Issue 10's fault-suite finding: an import chunk read the directory twice (is the
user in this account? is it known at all?); a directory batch committing between the
two reads made users of this very account look "known elsewhere", and they were
rejected ``not_found`` at once. One read now decides both."""

from __future__ import annotations

from typing import Any

from engage_import.handlers import imports as h

ACCOUNT = "acc_1"
USER = "usr_late"


class CommitsBetweenReads:
    """A directory whose batch holding ``USER`` commits after the first read."""

    def __init__(self) -> None:
        self.reads = 0
        self.row = {
            "user_id": USER,
            "account_id": ACCOUNT,
            "removed": False,
            "first_name": "Late",
            "last_name": "Comer",
            "email": "late@example.com",
            "time_zone": None,
            "language": None,
        }

    def _visible(self) -> bool:
        self.reads += 1
        return self.reads > 1

    async def lookup(self, user_ids: list[str]) -> dict[str, Any]:
        return {USER: self.row} if self._visible() and USER in user_ids else {}


class NoAgents:
    async def by_users(self, engage_account_id: str, user_ids: list[str]) -> dict[str, Any]:
        return {}

    async def taken_usernames(self, engage_account_id: str, bases: Any) -> set[str]:
        return set()

    async def insert_many(self, rows: list[dict[str, Any]]) -> set[str]:
        return {r["user_id"] for r in rows}


class Uow:
    def __init__(self) -> None:
        self.directory = CommitsBetweenReads()
        self.agents = NoAgents()


async def test_a_user_committed_between_reads_waits_instead_of_being_rejected() -> None:
    job = {
        "id": "imp_1",
        "account_id": ACCOUNT,
        "role_id": "agent",
        "team_ids": [],
        "category_ids": [],
    }
    link = {"id": "eng_1", "default_time_zone": "US/Eastern", "default_language": "en-US"}
    items = [{"seq": 0, "user_id": USER}]
    results, agents = await h._import_items(
        Uow(),  # type: ignore[arg-type]
        job,
        link,
        items,
        defer_unknown=True,
    )
    # not heard of in the one read: it waits (no result yet), it is not rejected
    assert results == [] and agents == []
