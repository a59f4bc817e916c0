"""users.add on a fake unit of work (tests/unit/identity/fakes.py): every entry checked,
numbers given, inventory reserved and given back on failure, events written; fast and
without servers, beside the integration tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from identity import handlers as h
from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import Conflict, LimitExceeded, ValidationFailed

from shared import subjects as s
from tests.unit.identity.fakes import FakeInventory, State, account, deps, uow

OPERATOR = Principal(
    user_id="op_1", account_id=None, permissions=frozenset(Perm.ALL), operator=True
)


def entry(email: str, **over: Any) -> dict[str, Any]:
    base = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "user_type": "mobile",
        "setup": {"option": "activate_later"},
    }
    return base | over


def add(st: State, inv: FakeInventory, users: list[dict[str, Any]], **kw: Any) -> c.UserList:
    cmd = c.AddUsers.model_validate({"account_id": "acc_1", "users": users})
    return asyncio.run(h.add_users(cmd, uow(st, **kw), OPERATOR, deps(inv)))


def test_users_are_added_with_the_lowest_free_numbers_and_their_events() -> None:
    st, inv = State(), FakeInventory()
    account(st)
    creds = {
        "option": "assign_credentials",
        "password": "violet-harbour-47",
        "pin": "480213",
        "security_question": "First pet?",
        "security_answer": "Rex the dog",
    }
    got = add(st, inv, [entry("ada@x.io"), entry("bob@x.io", user_type="standard", setup=creds)])
    assert [u.extension_number for u in got.users] == ["1001", "1002"]
    assert [u.status for u in got.users] == ["NotActivated", "Enabled"]
    assert st.subjects() == [s.USER_ADDED, s.USER_ADDED]
    # the standard user's license is reserved (ref: its entry's index)
    assert inv.allocated[0]["items"] == [{"kind": "license", "user_type": "standard", "ref": "1"}]
    assert len(st.users) == 2 and len(st.extensions) == 2


def test_every_problem_is_reported_with_its_entry_and_nothing_is_written() -> None:
    st, inv = State(), FakeInventory()
    account(st)
    with pytest.raises(ValidationFailed) as err:
        add(st, inv, [entry("ada@x.io", user_type="free"), entry("ADA@x.io")])
    fields = [e["field"] for e in err.value.details["errors"]]
    assert fields == ["users[0].user_type", "users[1].email"]
    assert not st.users and not st.events and not inv.allocated


def test_at_most_25_users_a_request() -> None:
    st, inv = State(), FakeInventory()
    account(st)
    with pytest.raises(LimitExceeded) as err:
        add(st, inv, [entry(f"u{i}@x.io") for i in range(26)])
    assert err.value.details["max"] == 25


def test_inventory_is_reserved_while_no_account_lock_is_held() -> None:
    st = State()
    inv = FakeInventory(st)
    account(st)
    got = add(st, inv, [entry("ada@x.io", user_type="standard"), entry("bob@x.io")])
    assert [a["while_locked"] for a in inv.allocated] == [False]
    assert len(got.users) == 2 and len(st.users) == 2 and not inv.released


def test_a_failed_write_gives_the_reserved_inventory_back() -> None:
    st, inv = State(), FakeInventory()
    account(st)
    with pytest.raises(Conflict):
        add(st, inv, [entry("ada@x.io", user_type="standard")], fail_insert=Conflict("taken"))
    assert inv.released == [inv.allocated[0]["request_id"]]
    assert not st.users and not st.events
