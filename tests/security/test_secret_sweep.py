"""No secret of a run is found afterwards (issue 9, "Done when": "no secret of a run
found afterwards in logs, any stream, dead letters or any non-hash column").

One run of every flow that carries a secret, each secret a unique, recognisable value;
then a sweep of everything the run leaves behind:

- every message (data and headers) of every JetStream stream, read with the
  harness's connection by sequence (``INGEST_DIRECTORY`` is a work queue: a second
  consumer is refused, ``get_msg`` is not);
- every column of every table of the four service databases (``dead_letters``
  payload, headers and error included; ``bytea`` decoded). The hash columns
  (``users.password_hash``, ``pin_hash``, ``security_answer_hash``,
  ``integrations.token_hash``, ``invite_tokens.token_hash``,
  ``link_codes.code_hash``) hold hashes by design: they are checked to look like
  hashes and swept like the rest, so their plaintext is nowhere either;
- every log record of the run (captured at DEBUG: message, arguments, extras and
  exception text).

The secrets: the password, PIN and security answer given to ``users.add``, the new
password of ``auth.change_password``, the password and PIN of
``users.reset_credentials``, a portal link code and a switched session,
the invite token read from the mail and the
password set with it, every session token, an integration token, the password whose
hash a directory request imports, the plaintext password of a refused directory
request and the password in a poison message that is dead-lettered. Refused attempts carry
secrets too: a wrong password, an over-long new password, a PIN of letters, an unknown
invite token. The invitation mail itself carries its token by design and is not swept
(nor is the log of the test's SMTP server, which prints the mails it receives).
"""

from __future__ import annotations

import json
import logging
import secrets as pysecrets
import uuid
from typing import Any

import nats.js.errors
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from identity.domain import pin_problems

from tests.integration.identity.conftest import entry, ready_account
from tests.integration.invites.support import token_in
from tests.security.ingest_support import (
    ADDED,
    REQUESTED,
    integration_token,
    outcome,
    publish_request,
)
from tests.security.snapshot import quiesce
from tests.support.system import System, email, eventually, uid

HASH_COLUMNS = {
    ("identity", "users", "password_hash"),
    ("identity", "users", "pin_hash"),
    ("identity", "users", "security_answer_hash"),
    ("identity", "integrations", "token_hash"),
    ("invite-scheduler", "invite_tokens", "token_hash"),
    ("account", "link_codes", "code_hash"),
}


def _pin() -> str:
    while True:
        pin = "".join(pysecrets.choice("0123456789") for _ in range(10))
        if not pin_problems(pin):
            return pin


class Secrets:
    """The plaintext secrets of the run, by name."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:12]
        self.values: dict[str, str] = {}

    def new(self, name: str, value: str | None = None) -> str:
        v = value or f"Sw33p-{name.replace(' ', '-')}-{self.tag}-{uuid.uuid4().hex[:8]}"
        self.values[name] = v
        return v

    def found_in(self, text: str) -> list[str]:
        return [name for name, v in self.values.items() if v in text]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _is_hash(value: Any) -> bool:
    """A PHC string (argon2id; bcrypt before the first sign-in), a hex SHA-256 or raw
    SHA-256 bytes."""
    if isinstance(value, bytes | bytearray | memoryview):
        return len(bytes(value)) == 32
    text = str(value)
    return text.startswith(("$argon2id$", "$2")) or (
        len(text) == 64 and all(ch in "0123456789abcdef" for ch in text)
    )


async def _run_flows(system: System, s: Secrets) -> None:
    acc = await ready_account(system)
    s.new("operator password", system.operator_password)
    s.new("operator session", await system.operator_token())
    operator = await system.operator_token()

    # users.add with assign_credentials: password, PIN, security answer
    mail = email("sweep")
    setup = {
        "option": "assign_credentials",
        "password": s.new("password"),
        "temporary_password": False,
        "pin": s.new("pin", _pin()),
        "security_question": "First pet?",
        "security_answer": s.new("security answer"),
    }
    user = (
        await system.call(
            "identity.v1.users.add",
            {"account_id": acc["id"], "users": [entry(mail, role="Super Admin", setup=setup)]},
            token=operator,
        )
    )["users"][0]

    # auth.login, then auth.change_password, then a login with the new password
    login = {"email": mail, "password": s.values["password"]}
    first = s.new("session", (await system.call("identity.v1.auth.login", login))["token"])
    change = {"current_password": s.values["password"], "new_password": s.new("new password")}
    await system.call("identity.v1.auth.change_password", change, token=first)
    login = {"email": mail, "password": s.values["new password"]}
    second = s.new("second session", (await system.call("identity.v1.auth.login", login))["token"])

    # refused attempts carrying secrets: a wrong password, an over-long new password,
    # a PIN that is not digits, an unknown invite token
    wrong = {"email": mail, "password": s.new("wrong password")}
    assert (await system.raw("identity.v1.auth.login", wrong)).error_code == "unauthenticated"
    long_pw = {
        "current_password": s.values["new password"],
        "new_password": s.new("too long password") + "x" * 300,
    }
    reply = await system.raw("identity.v1.auth.change_password", long_pw, token=second)
    assert reply.error_code == "validation_failed", reply.body
    bad_pin = setup | {"pin": s.new("letters pin")}
    reply = await system.raw(
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [entry(email("sweep-pin"), setup=bad_pin)]},
        token=operator,
    )
    assert reply.error_code == "validation_failed", reply.body
    bogus = {"token": s.new("unknown invite token"), "password": s.new("bogus activation pw")}
    assert (await system.raw("identity.v1.activation.complete", bogus)).error_code

    # a portal: a link code, then a switched session (minted by identity for account)
    portal = await system.call("account.v1.portals.create", {"name": f"BPO {uid()}"}, token=second)
    linked = await system.create_account()
    code = await system.call(
        "account.v1.portals.link_code",
        {"account_id": linked["id"]},
        token=system.token_for(linked["id"]),
    )
    link = {
        "portal_id": portal["id"],
        "account_id": linked["id"],
        "link_code": s.new("link code", code["link_code"]),
    }
    await system.call("account.v1.portals.link", link, token=second)
    switch = {"portal_id": portal["id"], "account_id": linked["id"]}
    switched = await system.call("account.v1.portals.switch", switch, token=second)
    s.new("switched session", switched["token"])

    # an administrator's credential reset (issue 12), then a login with the new password
    reset = {
        "account_id": acc["id"],
        "user_id": user["id"],
        "password": s.new("reset password"),
        "temporary_password": False,
        "pin": s.new("reset pin", _pin()),
    }
    await system.call("identity.v1.users.reset_credentials", reset, token=operator)
    login = {"email": mail, "password": s.values["reset password"]}
    s.new("reset session", (await system.call("identity.v1.auth.login", login))["token"])

    # an invitation: the token from the mail, activation.complete with a password
    invitee = email("sweep-invitee")
    await system.call(
        "identity.v1.users.add",
        {"account_id": acc["id"], "users": [entry(invitee, setup={"option": "send_invite"})]},
        token=operator,
    )
    msgs = await eventually(lambda: system.mail.messages_to(invitee), timeout=30)
    invite_token = s.new("invite token", token_in(msgs[0]))
    activation = {"token": invite_token, "password": s.new("activation password")}

    async def activated() -> bool:
        # the mail may arrive a moment before the scheduler has committed the invite
        r = await system.raw("identity.v1.activation.complete", activation)
        return r.error_code is None

    await eventually(activated, timeout=20)
    login = {"email": invitee, "password": s.values["activation password"]}
    s.new("invitee session", (await system.call("identity.v1.auth.login", login))["token"])

    # an integration; a directory request importing a password hash (its plaintext
    # never leaves this test), then that user's sign-in (the hash is replaced)
    itg = await integration_token(system, acc["id"], role="Users Admin")
    token = s.new("integration token", itg["token"])
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    imported_mail = email("sweep-imported")
    rid, _ = await publish_request(
        system,
        acc["id"],
        entry(
            imported_mail,
            setup={
                "option": "assign_credentials",
                "password_hash": weak.hash(s.new("imported password")),
                "temporary_password": False,
            },
        ),
        token=token,
    )
    assert (await outcome(system, acc["id"], rid))["_subject"] == ADDED
    login = {"email": imported_mail, "password": s.values["imported password"]}
    s.new("imported session", (await system.call("identity.v1.auth.login", login))["token"])

    # a directory request carrying a plaintext password: refused, and gone from the stream
    plain = {
        "option": "assign_credentials",
        "password": s.new("refused plaintext password"),
        "temporary_password": False,
    }
    rid, ack = await publish_request(
        system, acc["id"], entry(email("sweep-refused"), setup=plain), token=token
    )
    assert (await outcome(system, acc["id"], rid))["data"]["code"] == "validation_failed"
    with pytest.raises(nats.js.errors.NotFoundError):
        await system.harness_nc.jetstream().get_msg(ack.stream, ack.seq)

    # a poison message carrying a password: dead-lettered
    poison_id = uid("poison")
    poison = {
        "request_id": poison_id,
        "account_id": acc["id"],
        "user": ["not", "an", "entry"],
        "password": s.new("poison password"),
        "setup": {"password": s.values["poison password"]},
    }
    await system.ingest_nc.jetstream().publish(
        REQUESTED,
        json.dumps(poison).encode(),
        headers={"Nats-Msg-Id": str(uuid.uuid4()), "Authorization": f"Bearer {token}"},
    )
    identity = system.services["identity"]
    assert identity.sessions is not None

    async def dead_lettered() -> bool:
        assert identity.sessions is not None
        async with identity.sessions() as db:
            rows = (await db.execute(sa.text("SELECT payload FROM dead_letters"))).scalars()
            return any(poison_id in _text(p) for p in rows)

    await eventually(dead_lettered, timeout=30)
    assert user["id"]


async def _sweep_streams(system: System, s: Secrets) -> tuple[int, list[str]]:
    js = system.harness_nc.jetstream()
    seen, found = 0, []
    for info in await js.streams_info():
        name = info.config.name or ""
        seq = info.state.first_seq
        while True:
            try:
                # the next message at or after seq, on any subject: skips deleted ones
                msg = await js.get_msg(name, seq, subject=">", next=True)
            except nats.js.errors.NotFoundError:
                break
            seen += 1
            text = _text(msg.data) + "\n" + _text(dict(msg.headers or {}))
            found += [f"{name} seq {msg.seq} ({msg.subject}): {n}" for n in s.found_in(text)]
            assert msg.seq is not None
            seq = msg.seq + 1
    return seen, found


async def _sweep_databases(system: System, s: Secrets) -> tuple[int, list[str]]:
    seen, found = 0, []
    for name, svc in system.services.items():
        assert svc.sessions is not None
        async with svc.sessions() as db:
            tables = (
                await db.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables"
                        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                )
            ).scalars()
            for table in list(tables):
                result = await db.execute(sa.text(f'SELECT * FROM "{table}"'))
                columns = list(result.keys())
                for row in result.all():
                    seen += 1
                    for column, value in zip(columns, row, strict=True):
                        text = _text(value)
                        if (name, table, column) in HASH_COLUMNS and value:
                            assert _is_hash(value), f"{name}.{table}.{column} is not a hash"
                        found += [f"{name}.{table}.{column}: {n}" for n in s.found_in(text)]
    return seen, found


async def test_no_secret_of_a_run_is_found_afterwards(
    system: System, caplog: pytest.LogCaptureFixture
) -> None:
    s = Secrets()
    with caplog.at_level(logging.DEBUG):
        await _run_flows(system, s)
        await quiesce(system)  # every event delivered, every outbox row published
    assert len(s.values) == 26, s.values

    messages, in_streams = await _sweep_streams(system, s)
    rows, in_databases = await _sweep_databases(system, s)
    # aiosmtpd (the test's SMTP server, logger "mail.log") logs the mail it receives,
    # and the invitation mail carries its token by design: that is the mail server's
    # log, not ours
    records = [r for r in caplog.records if not r.name.startswith("mail.")]
    log_text = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {vars(r)!r}" for r in records)
    in_logs = s.found_in(log_text)

    assert messages > 0 and rows > 0 and records  # the sweep saw something
    assert any(r.name.startswith(("shared.", "identity")) for r in records)
    assert in_streams == [], in_streams
    assert in_databases == [], in_databases
    assert in_logs == [], in_logs
