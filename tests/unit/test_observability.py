"""Audit lines: emails masked, request text cannot forge fields; the HTTP endpoint."""

from __future__ import annotations

import logging

import pytest
from shared.observability import HttpEndpoint, Metrics, audit, audit_request, mask_email


def test_an_email_is_masked_with_a_stable_hash() -> None:
    masked = mask_email("Ada.Lovelace@Acme.example")
    assert masked.startswith("a***@acme.example#") and "lovelace" not in masked
    assert masked == mask_email("ada.lovelace@acme.example")
    assert mask_email("a@evil\nexample").startswith("a***@(invalid)#")
    assert mask_email(None) == mask_email("no-at-sign") == "-"


def test_request_text_cannot_forge_an_audit_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="audit")
    audit_request(
        "identity.v1.users.update",
        "not_found",
        b'{"user_id": "usr_1 outcome=succeeded\\naudit sign-in succeeded", "password": "pw"}',
        {},
        b"",
    )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "audit"]
    assert line.startswith("audit user changed failed:not_found ")
    assert "\n" not in line and " outcome=" not in line and "pw" not in line


def test_audit_writes_the_correlation_id_and_a_structured_copy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shared.logs import correlation_id

    caplog.set_level(logging.INFO, logger="audit")
    token = correlation_id.set("cid-1")
    try:
        audit("users added", account_id="acc_1", count=2)
    finally:
        correlation_id.reset(token)
    record = next(r for r in caplog.records if r.name == "audit")
    assert record.levelno == logging.INFO
    assert (
        record.getMessage() == "audit users added ok account_id=acc_1 count=2 correlation_id=cid-1"
    )
    assert record.__dict__["audit"] == {
        "action": "users added",
        "outcome": "ok",
        "account_id": "acc_1",
        "count": "2",
    }


async def test_the_http_endpoint_answers_readyz_by_the_health_status() -> None:
    status = {"status": "starting"}

    async def ready() -> dict[str, str]:
        return dict(status)

    http = HttpEndpoint(Metrics("x"), ready, "127.0.0.1", 0)
    assert (await http.respond("GET", "/readyz"))[0] == 503
    status["status"] = "ok"
    assert (await http.respond("GET", "/readyz"))[0] == 200
    assert (await http.respond("GET", "/healthz"))[0] == 200
    code, ctype, body = await http.respond("GET", "/metrics")
    assert code == 200 and ctype.startswith("text/plain") and b"provisioning_requests" in body
    assert (await http.respond("POST", "/metrics"))[0] == 405
    assert (await http.respond("GET", "/"))[0] == 404
