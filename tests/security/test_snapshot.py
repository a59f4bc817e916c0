"""The before/after comparison of tests/security/snapshot.py sees a change."""

from __future__ import annotations

import pytest

from tests.security.session_helpers import add_user
from tests.security.snapshot import snapshot, unchanged
from tests.support.system import System


async def test_a_change_in_the_block_is_reported(system: System) -> None:
    acc = await system.create_account()
    tables = await snapshot(system)
    assert set(tables) == {"account", "identity", "invite-scheduler", "engage-import"}
    assert "users" in tables["identity"] and "dead_letters" in tables["identity"]
    assert "outbox" not in tables["identity"] and "inbox" not in tables["account"]
    with pytest.raises(AssertionError, match=r"identity\.users \+"):
        async with unchanged(system):
            await add_user(system, acc["id"])
