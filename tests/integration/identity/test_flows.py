"""identity: invitation acceptance, directory provisioning, portal session minting."""

from __future__ import annotations

import json
import re
import uuid
from email.message import EmailMessage

from shared.auth import TokenVerifier

from tests.integration.identity.conftest import creds, entry, identity_events, ready_account
from tests.support.system import System, email, eventually, uid


def _token_in(msg: EmailMessage) -> str:
    body = msg.get_body(("plain", "html"))
    text = body.get_content() if body is not None else str(msg)
    m = re.search(r"activate/([A-Za-z0-9_\-\.]+)|token=([A-Za-z0-9_\-\.]+)", text)
    assert m, text
    return m.group(1) or m.group(2)


async def test_invited_user_completes_activation_with_a_password(system: System) -> None:
    acc = await ready_account(system)
    token = system.token_for(acc["id"])
    mail = email()
    user = (
        await system.call(
            "identity.v1.users.add",
            {"account_id": acc["id"], "users": [entry(mail, setup={"option": "send_invite"})]},
            token=token,
        )
    )["users"][0]
    msgs = await eventually(lambda: system.mail.messages_to(mail), timeout=20)
    invite_token = _token_in(msgs[0])

    async def weak_refused() -> dict | None:
        # the mail may arrive a moment before the scheduler has committed the invite
        r = await system.raw(
            "identity.v1.activation.complete", {"token": invite_token, "password": "password123"}
        )
        return r.body if r.error_code == "validation_failed" else None

    weak = await eventually(weak_refused)
    assert weak["error"]["details"]["errors"][0]["field"] == "password"
    done = await system.call(
        "identity.v1.activation.complete", {"token": invite_token, "password": "copper-kettle-58"}
    )
    assert done["id"] == user["id"] and done["status"] == "Enabled"
    again = await system.raw(
        "identity.v1.activation.complete", {"token": invite_token, "password": "copper-kettle-58"}
    )
    assert again.error_code == "conflict", again.body
    assert again.body["error"]["details"]["reason"] == "used"
    session = await system.call(
        "identity.v1.auth.login", {"email": mail, "password": "copper-kettle-58"}
    )
    assert session["must_change_password"] is False

    async def invite_shown() -> dict | None:
        got = await system.call(
            "identity.v1.users.get", {"account_id": acc["id"], "user_id": user["id"]}, token=token
        )
        return got["invite"]

    assert (await eventually(invite_shown))["status"]


async def test_directory_requests_are_provisioned_once_with_the_outcome_as_event(
    system: System,
) -> None:
    acc = await ready_account(system)
    itg = await system.call(
        "identity.v1.integrations.create",
        {"account_id": acc["id"], "name": "HR sync", "role": "Users Admin"},
        token=system.token_for(acc["id"]),
    )
    js = system.ingest_nc.jetstream()
    ok_id, bad_id = uid("req"), uid("req")
    good = {"request_id": ok_id, "account_id": acc["id"], "user": entry(email())}
    bad = {"request_id": bad_id, "account_id": acc["id"], "user": entry("nope", user_type="x")}
    for payload in (good, good, bad):
        await js.publish(
            "ingest.directory.user.requested",
            json.dumps(payload).encode(),
            headers={"Nats-Msg-Id": str(uuid.uuid4()), "Authorization": f"Bearer {itg['token']}"},
        )

    async def outcomes() -> list[dict]:
        evs = await identity_events(system, acc["id"])
        added = [e for e in evs if e["_subject"] == "events.identity.user.added"]
        failed = [e for e in evs if e["_subject"] == "events.identity.user.provisioning_failed"]
        return [added, failed] if added and failed else []

    added, failed = await eventually(outcomes, timeout=20)
    assert [e["data"]["request_id"] for e in added] == [ok_id]
    assert failed[0]["data"]["request_id"] == bad_id
    fields = {e["field"] for e in failed[0]["data"]["errors"]}
    assert {"user.email", "user.user_type"} <= fields
    page = await system.call(
        "identity.v1.users.list", {"account_id": acc["id"]}, token=system.token_for(acc["id"])
    )
    assert len(page["items"]) == 1


async def test_mint_is_internal_and_scopes_the_session_to_the_linked_account(
    system: System,
) -> None:
    acc = await ready_account(system)
    home = await ready_account(system)
    # mint re-checks the caller on identity's own records: a real, enabled portal admin
    address = email("portal")
    [admin] = (
        await system.call(
            "identity.v1.users.add",
            {
                "account_id": home["id"],
                "users": [
                    entry(address, role="Super Admin", setup=creds(temporary_password=False))
                ],
            },
            token=await system.operator_token(),
        )
    )["users"]
    caller = (
        await system.call(
            "identity.v1.auth.login", {"email": address, "password": "violet-harbour-47"}
        )
    )["token"]
    refused = await system.raw(
        "identity.v1.auth.mint",
        {"account_id": acc["id"], "user_id": admin["id"], "portal_id": "ptl_1"},
        token=caller,
        via=system.harness_nc,  # NATS lets only account publish here; this checks the key
    )
    assert refused.error_code == "forbidden"
    reply = await system.raw(
        "identity.v1.auth.mint",
        {"account_id": acc["id"], "user_id": admin["id"], "portal_id": "ptl_1"},
        token=caller,
        headers={"X-Internal-Key": system.internal_key},
        via=system.harness_nc,
    )
    principal = TokenVerifier(system.public_key).verify(reply.body["token"])
    assert principal.account_id == acc["id"] and principal.portal_id == "ptl_1"
    assert principal.user_id == admin["id"] and "users.manage" in principal.permissions
