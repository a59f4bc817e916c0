"""Issue 10: what a consumer retries for ever (transient) and what it dead-letters;
dead letters keep no secret (issue 9, item 5)."""

from __future__ import annotations

import json

import asyncpg
import nats.errors
import pytest
from shared.errors import Internal, NotFound, Unavailable
from shared.faults import Transient, is_transient
from shared.messaging.consumer import Poison
from shared.messaging.redaction import redact_headers, redact_payload, redact_text
from sqlalchemy import exc as sa_exc


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as e:
            raise RuntimeError("handler failed") from e
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sa_exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.SerializationError("could not serialize access"),
        # the server answers, but not as the service's database yet (a failover, a
        # restore, a wrong server on the port): the environment's fault, not the message's
        asyncpg.InvalidCatalogNameError('database "account" does not exist'),
        asyncpg.InvalidPasswordError('password authentication failed for user "account"'),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        nats.errors.NoRespondersError(),
        nats.errors.TimeoutError(),
        Unavailable("No answer from account.v1.extensions.reserve."),
        Transient("account not known yet"),
    ],
)
def test_environment_faults_are_transient_even_when_wrapped(exc: BaseException) -> None:
    assert is_transient(exc)
    assert is_transient(_wrapped(exc))


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad field"),
        KeyError("user_id"),
        NotFound("No such user."),
        Internal("Internal error"),
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        Poison("never"),
    ],
)
def test_faults_of_the_message_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_poison_wins_over_a_transient_cause() -> None:
    try:
        try:
            raise TimeoutError
        except TimeoutError as e:
            raise Poison("bad anyway") from e
    except Poison as p:
        assert not is_transient(p)


def test_a_payload_keeps_its_shape_but_no_secret() -> None:
    raw = json.dumps(
        {
            "id": "ev1",
            "data": {
                "email": "a@example.com",
                "password": "hunter2!",
                "pin": "9182",
                "security_answer": "Rex",
                "password_hash": "$argon2id$v=19$m=65536$salt$hash",
                "temporary_password": "Temp-1234",
                "users": [{"token": "tok-secret-1", "first_name": "Ada"}],
                "pin_length": 4,
            },
        }
    ).encode()
    clean, found = redact_payload(raw)
    text = clean.decode()
    for secret in ("hunter2!", "9182", "Rex", "argon2id", "Temp-1234", "tok-secret-1"):
        assert secret not in text
    data = json.loads(clean)["data"]
    assert data["password"] == "***" and data["users"][0]["first_name"] == "Ada"
    assert data["email"] == "a@example.com" and data["pin_length"] == 4
    assert "hunter2!" in found


def test_error_text_loses_the_payloads_secrets_and_secret_pairs() -> None:
    _, found = redact_payload(json.dumps({"password": "hunter2!"}).encode())
    err = (
        "IntegrityError: (INSERT ...) [parameters: ('hunter2!', 'x')] "
        "pin=1234 security_answer: 'Rex the dog' Authorization: Bearer eyJabc.def.ghi"
    )
    out = redact_text(err, found)
    for secret in ("hunter2!", "1234", "Rex the dog", "eyJabc.def.ghi"):
        assert secret not in out, out
    assert out.startswith("IntegrityError: (INSERT ...)")


def test_headers_lose_authorization_and_the_internal_key() -> None:
    assert redact_headers(
        {"Authorization": "Bearer x", "X-Internal-Key": "k", "Nats-Msg-Id": "1"}
    ) == {"Nats-Msg-Id": "1"}


def test_a_payload_that_is_not_json_has_secret_pairs_masked() -> None:
    clean, found = redact_payload(b"garbage password=hunter2 more")
    assert b"hunter2" not in clean and found == []
