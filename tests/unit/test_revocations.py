"""The in-memory revocation rules of shared.revocations, without NATS."""

from __future__ import annotations

import json
from typing import Any

from shared.auth import Principal
from shared.errors import Unauthenticated
from shared.revocations import RevocationList


def _value(data: dict[str, Any]) -> bytes:
    return json.dumps({"specversion": "1.0", "data": data}).encode()


def _principal(**over: Any) -> Principal:
    base: dict[str, Any] = {
        "user_id": "usr_1",
        "account_id": "acc_1",
        "token_id": "jti1",
        "issued_at_ms": 1_000,
        "user_version": 3,
    }
    return Principal(**(base | over))


def _fresh() -> RevocationList:
    r = RevocationList(max_lag=1.0)
    r.beat_sent(1, 100.0)
    r.beat_seen(1)
    return r


def test_user_versions_below_the_floor_are_revoked_and_later_sessions_are_not() -> None:
    r = _fresh()
    r.apply("user.usr_1", _value({"min_version": 4}))
    assert r.revoked(_principal(user_version=3))
    assert not r.revoked(_principal(user_version=4))
    assert r.revoked(_principal(user_version=None))  # a user token without a version
    # an older value arriving late never loosens
    r.apply("user.usr_1", _value({"min_version": 2}))
    assert r.revoked(_principal(user_version=3))
    r.apply("user.usr_1", None)  # expired from the bucket
    assert not r.revoked(_principal(user_version=3))


def test_sessions_accounts_and_links() -> None:
    r = _fresh()
    r.apply("session.jti1", _value({"revoked": True}))
    assert r.revoked(_principal()) and not r.revoked(_principal(token_id="jti2"))
    r.apply("account.acc_2", _value({"before_ms": 2_000, "blocked": False}))
    assert r.revoked(_principal(account_id="acc_2", token_id="x", issued_at_ms=1_999))
    assert not r.revoked(_principal(account_id="acc_2", token_id="x", issued_at_ms=2_000))
    r.apply("account.acc_2", _value({"before_ms": 3_000, "blocked": True}))
    assert r.revoked(_principal(account_id="acc_2", token_id="x", issued_at_ms=9_000))
    # a late, older status change does not unblock
    r.apply("account.acc_2", _value({"before_ms": 2_500, "blocked": False}))
    assert r.revoked(_principal(account_id="acc_2", token_id="x", issued_at_ms=9_000))
    r.apply("link.ptl_1.acc_3", _value({"before_ms": 5_000}))
    switched = _principal(account_id="acc_3", token_id="y", portal_id="ptl_1", issued_at_ms=4_000)
    assert r.revoked(switched)
    assert not r.revoked(_principal(account_id="acc_3", token_id="y", issued_at_ms=4_000))


def test_tokens_are_refused_until_caught_up_and_when_a_heartbeat_is_late() -> None:
    r = RevocationList(max_lag=1.0)
    try:
        r.check(_principal())
        raise AssertionError("accepted before caught up")
    except Unauthenticated as err:
        assert err.details["reason"] == "revocations_unknown"
    r.beat_sent(1, 100.0)
    r.beat_seen(1)
    assert r.caught_up(now=100.5)
    assert r.caught_up(now=103.0)  # nothing in flight: the process was idle, not behind
    r.beat_sent(2, 103.0)
    assert r.caught_up(now=103.9)
    assert not r.caught_up(now=104.1)  # heartbeat 2 on its way for more than max_lag
    r.beat_seen(2)
    assert r.caught_up(now=104.2)
    assert not r.caught_up(now=200.0)  # nothing came back for too long


def test_time_the_process_did_not_run_is_not_counted_as_falling_behind() -> None:
    r = RevocationList(max_lag=1.0)
    r.tick(100.0)
    r.beat_sent(1, 100.0)
    r.beat_seen(1)
    r.tick(100.1)
    r.beat_sent(2, 100.1)
    # the event loop was blocked for 4 s (no tick): heartbeat 2 is not late for that
    assert r.caught_up(now=104.1)
    # running again, ticking, and heartbeat 2 still does not come back: behind
    for i in range(16):
        r.tick(104.2 + 0.1 * i)
    assert not r.caught_up(now=105.7)
    r.beat_seen(2)
    assert r.caught_up(now=105.7)
