from __future__ import annotations

from typing import Any

from shared.errors import AppError

from tests.support.system import System, eventually


async def ready_account(system: System, **fields: Any) -> dict[str, Any]:
    """A new account, once identity has learned its facts."""
    acc = await system.create_account(**fields)
    token = await system.operator_token()

    async def known() -> bool:
        try:
            await system.call("identity.v1.extensions.list", {"account_id": acc["id"]}, token=token)
            return True
        except AppError as err:
            if err.code != "not_found":
                raise
            return False

    await eventually(known, timeout=20)
    return acc


def entry(email: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "user_type": "mobile",
        "setup": {"option": "activate_later"},
    }
    return base | over


def creds(password: str = "violet-harbour-47", **over: Any) -> dict[str, Any]:
    return {
        "option": "assign_credentials",
        "password": password,
        "pin": "480213",
        "security_question": "First pet?",
        "security_answer": "Rex the dog",
    } | over


async def identity_events(
    system: System, account_id: str, subject: str = "events.identity.>"
) -> list[dict[str, Any]]:
    """Every identity event about ``account_id``, read back from the stream."""
    import json

    import nats.errors
    from nats.js.api import DeliverPolicy

    js = system.harness_nc.jetstream()
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out: list[dict[str, Any]] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                break
            ev = json.loads(msg.data)
            ev["_subject"] = msg.subject
            data = ev.get("data") or {}
            if data.get("account_id") == account_id:
                out.append(ev)
    finally:
        await sub.unsubscribe()
    return out
