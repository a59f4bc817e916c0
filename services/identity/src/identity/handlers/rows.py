"""What provisioning writes: the rows of new users (their profile and regional
settings from the entry and the account's defaults, what inventory allocated to them)
and their events (``user.added``, ``extension.assigned``, ``user.invite_requested``)."""

from __future__ import annotations

from typing import Any

from shared.contracts import identity as c
from shared.ids import new_id
from shared.messaging.outbox import make_event

from identity import domain
from identity.domain.model import Account
from identity.handlers.common import SOURCE, _now
from identity.handlers.entries import _Entry
from identity.handlers.views import _user_event
from identity.ports import UnitOfWork
from shared import subjects as s


def build_rows(
    acc: dict[str, Any],
    entries: list[_Entry],
    hashes: dict[int, list[str | None]],
    allocations: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    account = Account.from_row(acc)
    created = _now()
    rows = []
    for e in entries:
        u = e.entry
        assert u is not None and e.role is not None and e.number is not None
        got = allocations.get(str(e.index if e.index is not None else 0), [])
        st = u.setup
        creds = isinstance(st, c.AssignCredentials)
        h: list[str | None] = hashes.get(id(e), [None, None, None])
        rows.append(
            {
                "id": new_id("usr"),
                "account_id": acc["account_id"],
                "extension_id": new_id("ext"),
                "extension_number": e.number,
                "status": "Enabled" if creds else "NotActivated",
                "first_name": u.first_name,
                "last_name": u.last_name,
                "email": u.email,
                "exclusive_email": account.require_unique_email,
                "user_type": u.user_type,
                "role_id": e.role.id,
                "role_name": e.role.name,
                "setup_option": st.option,
                "profile": _profile(account, e, u, got),
                "needs_emergency_location": u.emergency_location is None,
                "must_change_password": isinstance(st, c.AssignCredentials)
                and st.temporary_password,
                "password_hash": h[0],
                "pin_hash": h[1],
                "security_question": st.security_question
                if isinstance(st, c.AssignCredentials)
                else None,
                "security_answer_hash": h[2],
                "search_text": domain.search_text(u.first_name, u.last_name, u.email),
                "version": 1,
                "created_at": created,
            }
        )
    return rows


def _profile(
    account: Account, e: _Entry, u: c.UserEntry, got: list[dict[str, Any]]
) -> dict[str, Any]:
    reg = u.regional or c.Regional()
    phone = u.phone.model_dump(exclude_none=True) if u.phone else None
    number = u.phone_number.model_dump(exclude_none=True) if u.phone_number else None
    for a in got:
        if a.get("kind") == "device" and phone is not None:
            phone |= {k: a[k] for k in ("device_id", "model") if a.get(k)}
        if a.get("kind") == "number" and number is not None and a.get("number"):
            number["number"] = a["number"]
    return {
        "site_id": u.site_id,
        "cost_center_id": u.cost_center_id,
        "contact_phone": u.contact_phone,
        "mobile_phone": u.mobile_phone,
        "job_title": u.job_title,
        "department": u.department,
        "regional": account.regional(reg.model_dump(), e.site_time_zone),
        "call_recording": u.call_recording,
        "emergency_location": u.emergency_location.model_dump() if u.emergency_location else None,
        "phone": phone,
        "phone_number": number,
        "shipping_address": u.shipping_address.model_dump() if u.shipping_address else None,
        "license": any(a.get("kind") == "license" for a in got),
        # the time zone came from the site: it follows the site's (projections.on_site_event)
        "time_zone_from_site": reg.time_zone is None and e.site_time_zone is not None,
    }


def emit_added(
    uow: UnitOfWork,
    account_id: str,
    entries: list[_Entry],
    rows: list[dict[str, Any]],
    ext: dict[str, Any] | None,
    extra: dict[str, Any],
) -> None:
    """``user.added`` for each, ``extension.assigned`` for an extension filled, and
    ``user.invite_requested`` for each invitation to send or schedule."""
    for e, r in zip(entries, rows, strict=True):
        assert e.entry is not None
        uow.add_event(_user_event(s.USER_ADDED, r, setup_option=r["setup_option"], **extra))
        if ext is not None:
            data = {
                "extension_id": ext["id"],
                "account_id": account_id,
                "number": ext["number"],
                "status": r["status"],
                "user_id": r["id"],
            }
            uow.add_event(make_event(SOURCE, s.EXTENSION_ASSIGNED, data, key=ext["id"]))
        st = e.entry.setup
        if isinstance(st, c.SendInvite | c.ScheduleInvite):
            uow.add_event(_invite_requested(e, st, r, account_id))


def _invite_requested(
    e: _Entry, st: c.SendInvite | c.ScheduleInvite, r: dict[str, Any], account_id: str
) -> Any:
    data: dict[str, Any] = {
        "user_id": r["id"],
        "account_id": account_id,
        "email": r["email"],
        "first_name": r["first_name"],
        "last_name": r["last_name"],
        "option": st.option,
    }
    if isinstance(st, c.ScheduleInvite):
        assert e.send_at is not None
        data |= {
            "local_send_at": st.send_at,
            "time_zone": st.time_zone,
            "send_at": e.send_at.isoformat(),
        }
    return make_event(SOURCE, s.USER_INVITE_REQUESTED, data, key=r["id"])
