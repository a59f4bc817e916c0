"""The import use case (step 2 and its worker) on a fake unit of work: fast, no servers."""

from __future__ import annotations

from typing import Any

import pytest
from engage_import import handlers as h
from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.errors import NotFound, ValidationFailed

from shared import subjects as s
from tests.unit.engage.fakes import FakeUnitOfWork, State

ACC, OTHER, ENG = "acc_1", "acc_2", "eng_1"
ADMIN = Principal(
    user_id="usr_admin",
    account_id=ACC,
    permissions=frozenset({Perm.ENGAGE_MANAGE, Perm.ENGAGE_READ}),
)


def state() -> State:
    st = State()
    st.links[ENG] = {
        "id": ENG,
        "name": "Support",
        "account_id": ACC,
        "default_time_zone": "Europe/Paris",
        "default_language": "fr-FR",
        "created_at": None,
    }
    for rid in ("agent", "manager"):
        st.roles[(ENG, rid)] = {"engage_account_id": ENG, "id": rid, "name": rid}
    st.named["teams"]["tea_1"] = {"id": "tea_1", "engage_account_id": ENG, "name": "Billing"}
    for n, (uid, mail) in enumerate(
        [("usr_a", "jane.doe@example.com"), ("usr_b", "Jane-Doe@example.org")]
    ):
        st.directory[uid] = {
            "user_id": uid,
            "account_id": ACC,
            "first_name": f"Jane{n}",
            "last_name": "Doe",
            "email": mail,
            "status": "Enabled",
            "time_zone": "US/Eastern",
            "language": "fr-BE",
            "removed": False,
        }
    st.directory["usr_foreign"] = st.directory["usr_a"] | {
        "user_id": "usr_foreign",
        "account_id": OTHER,
    }
    return st


def cmd(**fields: Any) -> c.ImportAgents:
    return c.ImportAgents.model_validate(
        {"engage_account_id": ENG, "user_ids": ["usr_a"], "role_id": "agent"} | fields
    )


def subjects(uow: FakeUnitOfWork) -> list[str]:
    return [e.subject for e in uow.committed.events]


async def test_an_import_is_queued_with_each_user_once_and_the_worker_woken() -> None:
    uow = FakeUnitOfWork(state())
    woken: list[bool] = []
    job = await h.import_agents(
        cmd(user_ids=["usr_a", "usr_b", "usr_a"], team_ids=["tea_1", "tea_1"]),
        uow,
        ADMIN,
        lambda: woken.append(True),
    )
    assert (job.status, job.counts.total, job.team_ids) == ("queued", 2, ["tea_1"])
    assert [(r.user_id, r.status) for r in job.results] == [
        ("usr_a", "pending"),
        ("usr_b", "pending"),
    ]
    assert woken == [True] and uow.commits == 1
    assert uow.committed.jobs[job.id]["requested_by"] == "usr_admin"


async def test_unknown_role_teams_and_categories_are_named_and_nothing_is_queued() -> None:
    uow = FakeUnitOfWork(state())
    with pytest.raises(ValidationFailed) as err:
        await h.import_agents(
            cmd(role_id="nope", team_ids=["tea_1", "tea_x"], category_ids=["cat_x"]), uow, ADMIN
        )
    assert [(e["field"], e.get("index")) for e in err.value.details["errors"]] == [
        ("role_id", None),
        ("team_ids[1]", 1),
        ("category_ids[0]", 0),
    ]
    assert uow.committed.jobs == {} and uow.commits == 0


async def test_another_accounts_engage_account_looks_missing() -> None:
    stranger = Principal(
        user_id="usr_x", account_id=OTHER, permissions=frozenset({Perm.ENGAGE_MANAGE})
    )
    with pytest.raises(NotFound) as err:
        await h.import_agents(cmd(), FakeUnitOfWork(state()), stranger)
    assert err.value.message == "No such Engage account."


async def test_the_worker_imports_known_users_and_rejects_foreign_and_unknown_ones() -> None:
    uow = FakeUnitOfWork(state())
    job = await h.import_agents(
        cmd(user_ids=["usr_a", "usr_b", "usr_foreign", "usr_never"]), uow, ADMIN
    )
    assert await h.work_next_chunk(uow, 500) is True
    assert await h.work_next_chunk(uow, 500) is False  # nothing left to do
    done = await h.get_import(c.GetImport(engage_account_id=ENG, import_id=job.id), uow, ADMIN)
    assert done.status == "finished"
    assert done.counts.model_dump() == {
        "total": 4,
        "processed": 4,
        "imported": 2,
        "already_imported": 0,
        "rejected": 2,
    }
    by_user = {r.user_id: r for r in done.results}
    # usernames: the email's local part, folded; the second gets the next free suffix
    assert (by_user["usr_a"].username, by_user["usr_b"].username) == ("jane.doe", "jane.doe2")
    assert by_user["usr_a"].time_zone is not None
    assert by_user["usr_a"].time_zone.value == "America/New_York"
    assert {by_user[u].status for u in ("usr_foreign", "usr_never")} == {"rejected"}
    assert by_user["usr_foreign"].reason == by_user["usr_never"].reason == h.REJECTED_UNKNOWN
    assert subjects(uow).count(s.ENGAGE_AGENT_IMPORTED) == 2
    assert {s.ENGAGE_IMPORT_STARTED, s.ENGAGE_IMPORT_FINISHED} <= set(subjects(uow))


async def test_a_reimport_reports_already_imported_and_creates_nothing() -> None:
    uow = FakeUnitOfWork(state())
    await h.import_agents(cmd(), uow, ADMIN)
    await h.work_next_chunk(uow, 500)
    again = await h.import_agents(cmd(), uow, ADMIN)
    await h.work_next_chunk(uow, 500)
    done = await h.get_import(c.GetImport(engage_account_id=ENG, import_id=again.id), uow, ADMIN)
    assert [r.status for r in done.results] == ["already_imported"]
    assert len(uow.committed.agents) == 1


async def test_a_user_not_heard_of_yet_waits_instead_of_being_rejected() -> None:
    uow = FakeUnitOfWork(state())
    job = await h.import_agents(cmd(user_ids=["usr_a", "usr_new"]), uow, ADMIN)
    await h.work_next_chunk(uow, 500, wait_unknown=120.0)
    waiting = await h.get_import(c.GetImport(engage_account_id=ENG, import_id=job.id), uow, ADMIN)
    assert waiting.status == "running"
    assert [(r.user_id, r.status) for r in waiting.results] == [
        ("usr_a", "imported"),
        ("usr_new", "pending"),
    ]


async def test_an_import_of_another_engage_account_or_a_bad_cursor_is_refused() -> None:
    st = state()
    st.links["eng_2"] = st.links[ENG] | {"id": "eng_2"}
    uow = FakeUnitOfWork(st)
    job = await h.import_agents(cmd(), uow, ADMIN)
    with pytest.raises(NotFound):
        await h.get_import(c.GetImport(engage_account_id="eng_2", import_id=job.id), uow, ADMIN)
    with pytest.raises(ValidationFailed):
        await h.get_import(
            c.GetImport(engage_account_id=ENG, import_id=job.id, results_cursor="x"), uow, ADMIN
        )
