"""Eventual consistency on the directory-request path (issue 10): a request naming an
account identity has not heard of yet (its ``account.created`` event still on its way)
waits for it, for ``IDENTITY_DIRECTORY_UNKNOWN_ACCOUNT_WAIT_SECONDS`` after it was
published, instead of failing ``not_found`` at once."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from shared.contracts.events import CloudEvent

from tests.integration.identity.conftest import entry, identity_events
from tests.security.ingest_support import ADDED, FAILED, outcome, publish_request, users_of
from tests.support.system import System, email, eventually, uid


def _facts(account_id: str) -> dict[str, Any]:
    """The data of an ``account.created`` event (shared.contracts.account.AccountFacts)."""
    return {
        "account_id": account_id,
        "name": f"Acme {uid()}",
        "country": "US",
        "plan": "ultra",
        "status": "Active",
        "multi_site": False,
        "extension_length": 4,
        "require_unique_email": False,
        "default_time_zone": "America/New_York",
        "default_language": "en-US",
        "regional_format": "en-US",
        "user_types": ["mobile", "standard"],
        "version": 1,
    }


async def test_a_request_for_an_account_not_heard_of_yet_waits_for_it(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    account_id = uid("acc_")
    token = system.token_for(account_id)  # an admin session of the new account
    mail = email("early")
    with caplog.at_level(logging.WARNING, logger="shared.messaging.consumer"):
        rid, _ = await publish_request(system, account_id, entry(mail), token=token)

        async def handled_once() -> str | None:
            # before the fix: failed not_found at once; after: retried (Transient)
            if any(
                ev["data"].get("request_id") == rid
                for ev in await identity_events(system, account_id)
            ):
                return "answered"
            if any(account_id in r.getMessage() for r in caplog.records):
                return "retrying"
            return None

        first = await eventually(handled_once, timeout=30)
    assert first == "retrying", (await outcome(system, account_id, rid))["data"]
    # now identity hears of the account (the account service's event, published late)
    ev = CloudEvent(source="account", type="account.created", data=_facts(account_id))
    await system.harness_nc.jetstream().publish(
        "events.account.account.created",
        ev.model_dump_json().encode(),
        headers={"Nats-Msg-Id": ev.id},
    )
    done = await outcome(system, account_id, rid)
    assert done["_subject"] == ADDED, done["data"]
    assert [u["email"] for u in await users_of(system, account_id)] == [mail]


async def test_an_old_request_for_an_unknown_account_still_fails_not_found(
    system: System,
) -> None:
    """The wait is bounded: once a request is older than the wait, an unknown account
    fails it ``not_found`` as before (here the bound is set to 0 on identity)."""
    config = system.services["identity"].settings
    old = config.directory_unknown_account_wait_seconds
    object.__setattr__(config, "directory_unknown_account_wait_seconds", 0.0)
    try:
        account_id = uid("acc_")
        rid, _ = await publish_request(
            system, account_id, entry(email()), token=system.token_for(account_id)
        )
        done = await outcome(system, account_id, rid)
    finally:
        object.__setattr__(config, "directory_unknown_account_wait_seconds", old)
    assert (done["_subject"], done["data"]["code"]) == (FAILED, "not_found")
