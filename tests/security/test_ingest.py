"""Directory requests (``ingest.directory.user.requested``) are checked as ``users.add``
by the principal of their bearer token; no plaintext secret is accepted or kept."""

from __future__ import annotations

import logging

import bcrypt
import nats.js.errors
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from identity.adapters.tables import users as users_table
from shared.auth import Perm, TokenSigner

from tests.integration.identity.conftest import entry, ready_account
from tests.security.ingest_support import (
    ADDED,
    FAILED,
    integration_token,
    outcome,
    publish_request,
    users_of,
)
from tests.security.snapshot import unchanged
from tests.support.system import System, email, eventually, uid

PASSWORD = "violet-harbour-47"


def imported(**over: object) -> dict[str, object]:
    """``assign_credentials`` as a directory request gives it: a PHC hash, no plaintext."""
    weak_argon2 = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    return {
        "option": "assign_credentials",
        "password_hash": weak_argon2.hash(PASSWORD),
        "temporary_password": False,
    } | over


async def login(system: System, mail: str, password: str = PASSWORD) -> dict[str, object]:
    return await system.call("identity.v1.auth.login", {"email": mail, "password": password})


async def test_bare_request_for_a_super_admin_in_another_account_creates_nothing(
    system: System,
) -> None:
    """What was seen: a bare publish made a Super Admin in another company's account,
    who then signed in."""
    victim = await ready_account(system)
    mail = email("intruder")
    attack = entry(
        mail,
        role="Super Admin",
        setup={
            "option": "assign_credentials",
            "password": PASSWORD,
            "temporary_password": False,
            "pin": "480213",
            "security_question": "First pet?",
            "security_answer": "Rex the dog",
        },
    )
    async with unchanged(system):  # nothing in any database
        rid, _ = await publish_request(system, victim["id"], attack)
        ev = await outcome(system, victim["id"], rid)
    assert ev["_subject"] == FAILED
    assert ev["data"]["code"] == "unauthenticated"
    assert await users_of(system, victim["id"]) == []
    reply = await system.raw("identity.v1.auth.login", {"email": mail, "password": PASSWORD})
    assert reply.error_code == "unauthenticated"


async def test_unknown_revoked_invalid_and_expired_tokens_are_unauthenticated(
    system: System,
) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    await system.call(
        "identity.v1.integrations.revoke",
        {"account_id": acc["id"], "integration_id": itg["id"]},
        token=await system.operator_token(),
    )
    expired, _ = TokenSigner(system.private_key).mint(
        user_id=uid("usr_"), account_id=acc["id"], permissions=Perm.ALL, ttl_seconds=-10
    )
    async with unchanged(system):  # nothing in any database
        for token in (itg["token"], "itg_" + "A" * 43, "not-a-jwt", expired):
            rid, _ = await publish_request(system, acc["id"], entry(email()), token=token)
            ev = await outcome(system, acc["id"], rid)
            assert (ev["_subject"], ev["data"]["code"]) == (FAILED, "unauthenticated"), token
    assert await users_of(system, acc["id"]) == []


async def test_a_refused_request_does_not_use_up_its_request_id(system: System) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    rid, _ = await publish_request(system, acc["id"], entry(email()))
    assert (await outcome(system, acc["id"], rid))["data"]["code"] == "unauthenticated"
    mail = email()
    await publish_request(system, acc["id"], entry(mail), token=itg["token"], request_id=rid)

    async def added() -> bool:
        return any(u["email"] == mail for u in await users_of(system, acc["id"]))

    assert await eventually(added, timeout=30)
    assert (await outcome(system, acc["id"], rid))["_subject"] in (ADDED, FAILED)


async def test_an_integration_adds_a_user_with_an_imported_hash_who_signs_in(
    system: System,
) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    assert itg["token"].startswith("itg_")
    argon_mail, bcrypt_mail = email("argon"), email("bcrypt")
    bcrypt_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    rid1, _ = await publish_request(
        system, acc["id"], entry(argon_mail, setup=imported()), token=itg["token"]
    )
    rid2, _ = await publish_request(
        system,
        acc["id"],
        entry(bcrypt_mail, setup=imported(password_hash=bcrypt_hash)),
        token=itg["token"],
    )
    for rid in (rid1, rid2):
        ev = await outcome(system, acc["id"], rid)
        assert ev["_subject"] == ADDED, ev["data"]
    for mail in (argon_mail, bcrypt_mail):
        session = await login(system, mail)
        assert session["account_id"] == acc["id"]
    # the imported hashes were replaced by ours at the first sign-in
    identity = system.services["identity"]
    assert identity.sessions is not None
    async with identity.sessions() as s:
        stored = (
            await s.execute(
                sa.select(users_table.c.password_hash).where(
                    users_table.c.email.in_([argon_mail, bcrypt_mail])
                )
            )
        ).scalars()
        hashes = list(stored)
    assert len(hashes) == 2
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in hashes), hashes


async def test_an_integration_is_held_to_its_account_its_role_and_the_purchase_rules(
    system: System,
) -> None:
    acc, other = await ready_account(system), await ready_account(system)
    itg = await integration_token(system, acc["id"], role="Users Admin")
    token = itg["token"]
    higher, _ = await publish_request(
        system, acc["id"], entry(email(), role="Super Admin"), token=token
    )
    elsewhere, _ = await publish_request(system, other["id"], entry(email()), token=token)
    buys, _ = await publish_request(
        system,
        acc["id"],
        entry(
            email(),
            user_type="standard",
            phone={"source": "purchase", "model": "Yealink T54W"},
            shipping_address={
                "line1": "1 Main St",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        ),
        token=token,
        acknowledge_charges=True,
    )
    ev = await outcome(system, acc["id"], higher)
    assert ev["data"]["code"] == "validation_failed"
    assert {e["field"] for e in ev["data"]["errors"]} == {"user.role"}
    assert (await outcome(system, other["id"], elsewhere))["data"]["code"] == "forbidden"
    ev = await outcome(system, acc["id"], buys)
    assert ev["data"]["code"] == "forbidden", ev["data"]
    assert await users_of(system, acc["id"]) == []
    assert await users_of(system, other["id"]) == []


async def test_a_session_token_provisions_like_users_add_by_that_session(system: System) -> None:
    acc = await ready_account(system)
    admin = system.token_for(acc["id"], permissions=[Perm.USERS_READ, Perm.USERS_MANAGE, Perm.SELF])
    standard = system.token_for(acc["id"], permissions=[Perm.SELF])
    ok, _ = await publish_request(system, acc["id"], entry(email()), token=admin)
    refused, _ = await publish_request(system, acc["id"], entry(email()), token=standard)
    assert (await outcome(system, acc["id"], ok))["_subject"] == ADDED
    assert (await outcome(system, acc["id"], refused))["data"]["code"] == "forbidden"
    assert len(await users_of(system, acc["id"])) == 1


@pytest.mark.parametrize("secret", ["password", "pin", "security_answer"])
async def test_plaintext_secrets_are_refused_and_the_request_leaves_the_stream(
    system: System, secret: str
) -> None:
    acc = await ready_account(system)
    itg = await integration_token(system, acc["id"])
    plain = {
        "password": "copper-kettle-58",
        "pin": "480213",
        "security_answer": "Rex the dog",
    }[secret]
    setup = imported(**{secret: plain})
    if secret == "security_answer":
        setup["security_question"] = "First pet?"
    rid, ack = await publish_request(
        system, acc["id"], entry(email(), setup=setup), token=itg["token"]
    )
    ev = await outcome(system, acc["id"], rid)
    assert ev["data"].get("code") == "validation_failed", ev
    assert f"user.setup.{secret}" in {e["field"] for e in ev["data"]["errors"]}
    assert plain not in str(ev)
    assert await users_of(system, acc["id"]) == []
    # work-queue retention: a handled request is no longer at rest in the stream
    js = system.harness_nc.jetstream()
    with pytest.raises(nats.js.errors.NotFoundError):
        await js.get_msg(ack.stream, ack.seq)


async def test_a_failed_insert_never_logs_its_parameters(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    """What was seen: a failed insert (a NUL in job_title) logged the argon2 hashes of
    password, PIN and answer into identity's log, with the statement's parameters."""
    identity = system.services["identity"]
    assert identity.sessions is not None
    marker = "$argon2id$v=19$m=19456,t=2,p=1$" + uid("secret")
    log = logging.getLogger("shared.messaging.rpc")
    with caplog.at_level(logging.DEBUG):
        try:
            async with identity.sessions() as s, s.begin():
                await s.execute(
                    sa.insert(users_table).values(
                        id=uid("usr_"),
                        account_id="acc_x",
                        extension_id=uid("ext_"),
                        extension_number="1001",
                        status="Enabled",
                        first_name="Ada",
                        last_name="Lovelace",
                        email=email(),
                        exclusive_email=False,
                        user_type="mobile",
                        role_id="role_standard",
                        role_name="Standard User",
                        setup_option="assign_credentials",
                        profile={"job_title": "Chief\u0000Engineer"},
                        needs_emergency_location=True,
                        must_change_password=False,
                        password_hash=marker,
                        pin_hash=marker,
                        security_answer_hash=marker,
                        version=1,
                    )
                )
        except Exception as exc:
            log.exception("unhandled error on %s", "identity.v1.users.add")
            assert marker not in str(exc)
        else:
            raise AssertionError("the insert should have failed")
    assert marker not in caplog.text
