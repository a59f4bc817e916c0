"""users.update on a fake unit of work (tests/unit/identity/fakes.py): a change that
reserves inventory reserves it with no lock held, checks again and writes, and gives
it back exactly once if anything changed or failed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from identity import handlers as h
from shared.contracts import identity as c
from shared.errors import ValidationFailed

from shared import subjects as s
from tests.unit.identity.fakes import FakeInventory, State, account, deps, uow
from tests.unit.identity.test_add_handlers import OPERATOR, add, entry


def _user(st: State, inv: FakeInventory, **over: Any) -> str:
    got = add(st, inv, [entry("ada@x.io", **over)])
    st.events.clear()
    return got.users[0].id


def update(st: State, inv: FakeInventory, user_id: str, fields: dict[str, Any]) -> c.User:
    cmd = c.UpdateUser.model_validate({"account_id": "acc_1", "user_id": user_id, "fields": fields})
    return asyncio.run(h.update_user(cmd, uow(st), OPERATOR, deps(inv)))


def test_a_new_license_is_reserved_while_no_lock_is_held() -> None:
    st = State()
    inv = FakeInventory(st)
    account(st)
    uid = _user(st, inv)
    got = update(st, inv, uid, {"user_type": "standard"})
    assert [a["while_locked"] for a in inv.allocated] == [False]
    assert inv.allocated[0]["items"] == [{"kind": "license", "user_type": "standard", "ref": "0"}]
    assert got.user_type == "standard" and st.users[uid]["profile"]["license"] is True
    assert st.subjects() == [s.USER_UPDATED] and not inv.released


def test_a_change_without_inventory_asks_the_account_service_nothing() -> None:
    st = State()
    inv = FakeInventory(st)
    account(st)
    uid = _user(st, inv)
    got = update(st, inv, uid, {"job_title": "Engineer"})
    assert got.job_title == "Engineer" and not inv.allocated
    assert st.subjects() == [s.USER_UPDATED]


def test_a_problem_found_again_after_reserving_gives_the_inventory_back_once() -> None:
    st = State()
    account(st)
    uid = ""

    class Racing(FakeInventory):
        """Another change lands while the account service answers: the email taken."""

        async def allocate(self, **kw: Any) -> dict[str, Any]:
            st.users["usr_other"] = dict(st.users[uid], id="usr_other", email="bob@x.io")
            return await super().allocate(**kw)

    inv = Racing(st)
    uid = _user(st, inv)
    with pytest.raises(ValidationFailed) as err:
        update(st, inv, uid, {"user_type": "standard", "email": "bob@x.io"})
    assert [e["field"] for e in err.value.details["errors"]] == ["fields.email"]
    assert inv.released == [inv.allocated[0]["request_id"]]
    assert st.users[uid]["user_type"] == "mobile" and not st.events


def test_a_user_changed_meanwhile_is_reserved_for_again() -> None:
    st = State()
    account(st)
    uid = ""

    class Racing(FakeInventory):
        """The first time, another change gives the user the same license meanwhile."""

        async def allocate(self, **kw: Any) -> dict[str, Any]:
            if not self.allocated:
                st.users[uid] |= {"user_type": "standard"}
            return await super().allocate(**kw)

    inv = Racing(st)
    uid = _user(st, inv)
    got = update(st, inv, uid, {"user_type": "standard"})
    # the second check finds nothing to reserve: the first reservation goes back
    assert got.user_type == "standard" and len(inv.allocated) == 1
    assert inv.released == [inv.allocated[0]["request_id"]]
    assert st.subjects() == [s.USER_UPDATED]
