"""Outside input the database or the parser cannot take (NUL, deep nesting) is
``validation_failed``, never ``internal``; unauthenticated work has its own budget."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from argon2 import PasswordHasher
from pydantic import BaseModel
from shared.auth import Principal, TokenVerifier
from shared.contracts.common import Command, Empty
from shared.errors import AppError
from shared.messaging.payload import MAX_DEPTH, find_problem, parse_object
from shared.messaging.rpc import KeyedThrottle, RpcRouter

from tests.integration.identity.conftest import entry, ready_account
from tests.security.ingest_support import integration_token, outcome, publish_request, users_of
from tests.security.snapshot import unchanged
from tests.support.system import System, email, uid

ADD = "identity.v1.users.add"


def nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


# --- the parse step, alone --------------------------------------------------------


def test_parse_refuses_nul_deep_nesting_and_oversized_bodies() -> None:
    with pytest.raises(AppError) as nul:
        parse_object(b'{"users": [{"job_title": "a\\u0000b"}]}')
    assert nul.value.code == "validation_failed"
    assert nul.value.details["errors"][0]["field"] == "users[0].job_title"
    with pytest.raises(AppError) as deep:
        parse_object(("[" * 100_000 + "]" * 100_000).encode())
    assert deep.value.code == "validation_failed"
    with pytest.raises(AppError) as deep_obj:
        parse_object(nested(900).encode())
    assert deep_obj.value.code == "validation_failed"
    with pytest.raises(AppError):
        parse_object(b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    # an escaped backslash before u0000 is text, not NUL; nesting at the bound is fine
    assert parse_object(b'{"a": "\\\\u0000"}') == {"a": "\\u0000"}
    assert parse_object(nested(MAX_DEPTH).encode())
    assert find_problem({"k\x00": 1}) is not None


def test_keyed_throttle_allows_a_burst_then_the_rate() -> None:
    t = KeyedThrottle(rate=1.0, burst=3.0, max_keys=2)
    assert [t.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert t.allow("b", now=0.0)  # another key has its own bucket
    assert t.allow("a", now=1.0)  # one more after a second
    assert not t.allow("a", now=1.0)


# --- request/reply ------------------------------------------------------------------


async def test_nul_in_a_text_field_is_validation_failed_and_adds_nobody(system: System) -> None:
    """What was seen: a NUL byte in a text field got ``internal``."""
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    body = {"account_id": acc["id"], "users": [entry(email(), job_title="Chief\u0000Engineer")]}
    async with unchanged(system):  # nothing in any database
        reply = await system.raw(ADD, body, token=token)
        assert reply.error_code == "validation_failed", reply.body
        assert reply.body["error"]["details"]["errors"][0]["field"] == "users[0].job_title"
        login = await system.raw(
            "identity.v1.auth.login", {"email": "a\u0000@example.com", "password": "x"}
        )
    assert login.error_code == "validation_failed"
    assert await users_of(system, acc["id"]) == []


async def test_json_nested_100000_levels_is_validation_failed(system: System) -> None:
    acc = await ready_account(system)
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    body = b'{"account_id": "' + acc["id"].encode() + b'", "user_id": ' + deep + b"}"
    async with unchanged(system):  # nothing in any database
        for subject, token in (
            ("identity.v1.users.get", system.token_for(acc["id"])),
            ("identity.v1.auth.login", None),
            ("account.v1.accounts.get", system.token_for(acc["id"])),
        ):
            reply = await system.raw(subject, body, token=token)
            assert reply.error_code == "validation_failed", (subject, reply.body)


async def test_a_settings_value_nested_900_levels_is_validation_failed(system: System) -> None:
    acc = await ready_account(system)
    config = json.loads(nested(900))
    body = {
        "account_id": acc["id"],
        "settings": {"wfm_integrations": [{"vendor": "Acme WFM", "config": config}]},
    }
    async with unchanged(system):  # nothing in any database
        reply = await system.raw(
            "account.v1.accounts.update_settings", body, token=system.token_for(acc["id"])
        )
        assert reply.error_code == "validation_failed", reply.body
    got = await system.call(
        "account.v1.accounts.get", {"account_id": acc["id"]}, token=system.token_for(acc["id"])
    )
    assert got["settings"]["wfm_integrations"] == []


# --- ingest -------------------------------------------------------------------------


async def test_a_directory_request_with_nul_fails_validation_and_logs_no_hash(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    hashed = PasswordHasher().hash(uid("pw"))
    user = entry(
        email(),
        job_title="Chief\u0000Engineer",
        setup={"option": "assign_credentials", "password_hash": hashed},
    )
    with caplog.at_level(logging.DEBUG):
        rid, _ = await publish_request(system, acc["id"], user, token=itg["token"])
        ev = await outcome(system, acc["id"], rid)
    assert ev["data"]["code"] == "validation_failed", ev["data"]
    assert ev["data"]["errors"][0]["field"] == "user.job_title"
    assert hashed not in caplog.text
    assert hashed.split("$")[-1] not in caplog.text
    assert await users_of(system, acc["id"]) == []


async def test_a_directory_request_nested_too_deeply_fails_validation(system: System) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    user = entry(email()) | {"department": json.loads(nested(200))}
    # nothing in any database but the request's outcome, kept once per request id
    async with unchanged(system, allow=("identity.provisioning_requests",)):
        rid, _ = await publish_request(system, acc["id"], user, token=itg["token"])
        ev = await outcome(system, acc["id"], rid)
    assert ev["data"]["code"] == "validation_failed", ev["data"]


# --- the budget for unauthenticated work --------------------------------------------


class Ping(Command):
    n: int = 0


class Pong(BaseModel):
    n: int


async def test_with_the_public_budget_exhausted_an_authenticated_request_is_answered(
    system: System,
) -> None:
    """Functional, not timed: public requests beyond the budget are refused at once with
    ``limit_exceeded`` (reason ``busy``) while an authenticated request is served."""
    prefix = uid("budget")
    gate = asyncio.Event()
    rpc = RpcRouter("budget-test")

    @rpc.endpoint(f"{prefix}.public", Ping, Pong, public=True)
    async def slow(cmd: Ping, p: Principal | None) -> Pong:
        await gate.wait()
        return Pong(n=cmd.n)

    @rpc.endpoint(f"{prefix}.private", Empty, Pong)
    async def private(cmd: Empty, p: Principal | None) -> Pong:
        return Pong(n=-1)

    rpc.mount(TokenVerifier(system.public_key), prefix, public_concurrency=2, public_queue=2)
    nc = system.harness_nc
    await rpc.start(nc)
    try:
        held = [
            asyncio.create_task(nc.request(f"{prefix}.public", json.dumps({"n": i}).encode(), 10))
            for i in range(4)
        ]
        await asyncio.sleep(0)  # the requests go out before the one beyond the budget
        await nc.flush()
        refused = await nc.request(f"{prefix}.public", b"{}", timeout=10)
        body: dict[str, Any] = json.loads(refused.data)
        assert body["error"]["code"] == "limit_exceeded"
        assert body["error"]["details"]["reason"] == "busy"
        token = system.token_for("acc_budget")
        answered = await nc.request(
            f"{prefix}.private", b"{}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        assert json.loads(answered.data) == {"n": -1}
        assert not any(t.done() for t in held)
        gate.set()
        replies = [json.loads((await t).data) for t in held]
        assert sorted(r["n"] for r in replies) == [0, 1, 2, 3]
    finally:
        gate.set()
        await rpc.stop()
