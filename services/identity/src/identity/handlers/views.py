"""Replies and events: a user row as the ``User`` reply and as the ``UserSnapshot``
events carry (no secrets, ever), extensions and roles as replies."""

from __future__ import annotations

from typing import Any

from shared.contracts import identity as c
from shared.messaging.outbox import make_event

from identity import domain
from identity.handlers.common import SOURCE

# --- replies and events ----------------------------------------------------------


def to_user(row: dict[str, Any]) -> c.User:
    p = row["profile"]
    inv = row.get("invite")
    return c.User(
        id=row["id"],
        account_id=row["account_id"],
        extension_id=row["extension_id"],
        extension_number=row["extension_number"],
        status=row["status"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        user_type=row["user_type"],
        site_id=p.get("site_id"),
        cost_center_id=p.get("cost_center_id"),
        contact_phone=p.get("contact_phone"),
        mobile_phone=p.get("mobile_phone"),
        job_title=p.get("job_title"),
        department=p.get("department"),
        role=row["role_name"],
        role_id=row["role_id"],
        regional=p.get("regional") or {},
        call_recording=p.get("call_recording", "off"),
        emergency_location=p.get("emergency_location"),
        phone=p.get("phone"),
        phone_number=p.get("phone_number"),
        shipping_address=p.get("shipping_address"),
        setup_option=row["setup_option"],
        must_change_password=row["must_change_password"],
        needs_emergency_location=row["needs_emergency_location"],
        calling_blocked=_calling_blocked(row),
        invite=c.InviteInfo.model_validate(inv) if inv else None,
        version=row["version"],
        created_at=row.get("created_at"),
    )


def _calling_blocked(row: dict[str, Any]) -> bool:
    has_location = bool((row["profile"] or {}).get("emergency_location"))
    return domain.calling_blocked(row["user_type"], has_location)


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The UserSnapshot of docs/internal-contract.md: no secrets, ever."""
    p = row["profile"]
    return {
        "user_id": row["id"],
        "account_id": row["account_id"],
        "extension_id": row["extension_id"],
        "extension_number": row["extension_number"],
        "status": row["status"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "email": row["email"],
        "user_type": row["user_type"],
        "site_id": p.get("site_id"),
        "cost_center_id": p.get("cost_center_id"),
        "role": row["role_name"],
        "job_title": p.get("job_title"),
        "department": p.get("department"),
        "regional": p.get("regional") or {},
        "needs_emergency_location": row["needs_emergency_location"],
        "calling_blocked": _calling_blocked(row),
        "must_change_password": row["must_change_password"],
        "version": row["version"],
    }


def _user_event(subject: str, row: dict[str, Any], **extra: Any) -> Any:
    return make_event(SOURCE, subject, snapshot(row) | extra, key=row["id"])


def to_extension(row: dict[str, Any]) -> c.Extension:
    return c.Extension.model_validate(row)


def _role_view(role: domain.Role, account_id: str | None) -> c.Role:
    return c.Role(
        id=role.id,
        account_id=account_id,
        name=role.name,
        permissions=sorted(role.permissions),
        international_calling=role.international_calling,
        predefined=role.predefined,
    )
