"""Audit lines (docs/observability.md): one INFO line (logger ``audit``) for each
sign-in, user added/changed/removed, invite and import request, with its outcome and
correlation id. Emails are masked, passwords and tokens never written."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import jwt

from shared.logs import correlation_id

audit_log = logging.getLogger("audit")


def mask_email(email: object) -> str:
    """``ada@acme.example`` -> ``a***@acme.example#3f2a9c`` (first letter, domain and a
    short hash to tell addresses apart without writing them)."""
    if not isinstance(email, str) or "@" not in email:
        return "-"
    local, _, domain = email.strip().lower().rpartition("@")
    if not _DOMAIN.fullmatch(domain):
        domain = "(invalid)"
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:8]
    return f"{local[:1]}***@{domain}#{digest}"


_DOMAIN = re.compile(r"[a-z0-9.-]{1,253}")
_UNSAFE = re.compile(r"[^\w.@#*,:+-]")


def _clean(value: object) -> str:
    """A field value as written in an audit line: no spaces or control characters
    (a request's own text cannot forge a line or a field), at most 1000 characters."""
    return _UNSAFE.sub("?", str(value))[:1000]


def _actor(headers: dict[str, str]) -> str:
    """The signed-in user of a request the service has already accepted (the token was
    verified by the endpoint); never the token itself."""
    auth = headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return "-"
    try:
        claims = jwt.decode(auth[7:], options={"verify_signature": False})
        return str(claims.get("sub", "-"))
    except Exception:
        return "-"


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data) if data else {}
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


AuditFn = Callable[[dict[str, Any], dict[str, Any]], tuple[str, dict[str, object]]]


def _login(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "sign-in", {"email": mask_email(req.get("email")), "user_id": rep.get("user_id")}


def _users_add(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    users = rep.get("users") or []
    asked = req.get("users") if isinstance(req.get("users"), list) else []
    options = sorted(
        {
            str((u.get("setup") or {}).get("option"))
            for u in asked or []
            if isinstance(u, dict) and isinstance(u.get("setup"), dict)
        }
    )
    return "users added", {
        "account_id": req.get("account_id"),
        "count": len(users) if users else len(asked or []),
        "user_ids": ",".join(str(u.get("id")) for u in users if isinstance(u, dict)) or None,
        "setup": ",".join(options) or None,
    }


def _user(action: str) -> AuditFn:
    def fn(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
        return action, {"user_id": req.get("user_id"), "account_id": req.get("account_id")}

    return fn


def _invite(action: str) -> AuditFn:
    def fn(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
        return action, {
            "invite_id": rep.get("id") or req.get("invite_id"),
            "user_id": rep.get("user_id") or req.get("user_id"),
            "account_id": rep.get("account_id") or req.get("account_id"),
            "email": mask_email(rep.get("email")) if rep.get("email") else None,
        }

    return fn


def _import(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "agent import started", {
        "import_id": rep.get("id"),
        "engage_account_id": req.get("engage_account_id"),
        "users": len(req.get("user_ids") or []),
        "role_id": req.get("role_id"),
    }


def _agent(action: str) -> AuditFn:
    def fn(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
        return action, {
            "agent_id": req.get("agent_id"),
            "engage_account_id": req.get("engage_account_id"),
            "user_id": rep.get("user_id"),
        }

    return fn


def _account(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "account created", {"account_id": rep.get("id"), "plan": req.get("plan")}


def _site(action: str) -> AuditFn:
    def fn(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
        return action, {"site_id": req.get("site_id"), "account_id": req.get("account_id")}

    return fn


def _activation(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "activation completed", {"user_id": rep.get("id"), "account_id": rep.get("account_id")}


def _recovery_start(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "password recovery asked", {
        "email": mask_email(req.get("email")),
        "account_id": req.get("account_id"),
    }


def _recovered(req: dict[str, Any], rep: dict[str, Any]) -> tuple[str, dict[str, object]]:
    return "password recovered", {"user_id": rep.get("id"), "account_id": rep.get("account_id")}


AUDITED: dict[str, AuditFn] = {
    "identity.v1.recovery.start": _recovery_start,
    "identity.v1.recovery.complete": _recovered,
    "identity.v1.users.change_pin": _user("own PIN changed"),
    "identity.v1.auth.login": _login,
    "identity.v1.auth.change_password": _user("password changed"),
    "identity.v1.activation.complete": _activation,
    "identity.v1.users.add": _users_add,
    "identity.v1.users.update": _user("user changed"),
    "identity.v1.users.assign_credentials": _user("user credentials assigned"),
    "identity.v1.users.set_emergency_location": _user("user emergency location set"),
    "identity.v1.users.remove": _user("user removed"),
    "identity.v1.extensions.remove": lambda req, rep: (
        "extension removed",
        {"account_id": req.get("account_id"), "extension_id": req.get("extension_id")},
    ),
    "identity.v1.roles.set_default": lambda req, rep: (
        "default role set",
        {"account_id": req.get("account_id"), "role_id": rep.get("id")},
    ),
    "invites.v1.send": _invite("invite send requested"),
    "invites.v1.schedule": _invite("invite scheduled"),
    "invites.v1.reschedule": _invite("invite rescheduled"),
    "invites.v1.resend": _invite("invite resend requested"),
    "invites.v1.cancel": _invite("invite cancelled"),
    "engage.v1.agents.import": _import,
    "engage.v1.agents.update": _agent("agent changed"),
    "engage.v1.agents.remove": _agent("agent removed"),
    "account.v1.accounts.create": _account,
    "account.v1.sites.update": _site("site changed"),
    "account.v1.sites.remove": _site("site removed"),
}


def audit(action: str, outcome: str = "ok", **fields: object) -> None:
    """One INFO audit line: ``audit <action> <outcome> k=v ...`` (the correlation id is
    added by the JSON formatter, and written here too for plain-text handlers)."""
    fields = {k: _clean(v) for k, v in fields.items() if v is not None}
    parts = [f"{k}={v}" for k, v in fields.items()]
    cid = correlation_id.get()
    if cid:
        parts.append(f"correlation_id={cid}")
    audit_log.info(
        "audit %s %s %s",
        action,
        outcome,
        " ".join(parts),
        extra={"audit": {"action": action, "outcome": outcome, **fields}},
    )


def audit_request(
    subject: str,
    outcome: str,
    data: bytes,
    headers: dict[str, str],
    reply_body: bytes,
) -> None:
    fn = AUDITED[subject]
    req = _json(data)
    rep = _json(reply_body) if outcome == "ok" else {}
    action, fields = fn(req, rep)
    if subject != "identity.v1.auth.login":
        fields = {"actor": _actor(headers) if outcome == "ok" else None, **fields}
    audit(action, "succeeded" if outcome == "ok" else f"failed:{outcome}", **fields)
