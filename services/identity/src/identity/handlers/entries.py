"""The entries of ``users.add`` (and of one-user provisioning): parsed, then checked
against the rules that need nothing else and those that need the account."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from shared.contracts import identity as c
from shared.errors import (
    ValidationFailed,
    field_error,
)
from shared.messaging.rpc import loc_to_path

from identity import domain
from identity.domain.model import Account, Credentials
from identity.handlers.common import Actor, _custom_role, _find_role
from identity.ports import (
    Hasher,
    UnitOfWork,
)


@dataclass
class _Entry:
    index: int | None
    prefix: tuple[str | int, ...]
    entry: c.UserEntry | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    hashes: asyncio.Future[list[str | None]] | None = None
    role: domain.Role | None = None
    number: str | None = None
    send_at: datetime | None = None
    site_time_zone: str | None = None

    def error(self, fld: str, message: str) -> None:
        path, _ = loc_to_path((*self.prefix, *fld.split(".")))
        self.errors.append(field_error(path, message, index=self.index))


def _parse(raw: dict[str, Any], prefix: tuple[str | int, ...], index: int | None) -> _Entry:
    e = _Entry(index, prefix)
    try:
        e.entry = c.UserEntry.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(x for x in err["loc"] if x not in _UNION_TAGS)
            path, _ = loc_to_path((*prefix, *loc))
            msg = str(err["msg"]).removeprefix("Value error, ")
            e.errors.append(field_error(path, msg, index=index, type=err["type"]))
    return e


_UNION_TAGS = {"send_invite", "schedule_invite", "assign_credentials", "activate_later"}


def _pure_checks(e: _Entry, now: datetime) -> None:
    """Rules that need nothing but the entry itself."""
    u = e.entry
    assert u is not None
    _type_checks(e, u)
    st = u.setup
    if isinstance(st, c.AssignCredentials):
        creds = Credentials(st.password, st.pin, st.security_answer)
        for fld, msg in creds.problems(
            first_name=u.first_name,
            last_name=u.last_name,
            email=u.email,
            extension_number=u.extension_number,
            prefix="setup.",
        ):
            e.error(fld, msg)
    elif isinstance(st, c.ScheduleInvite):
        try:  # the scheduling horizon (domain.schedule_instant)
            e.send_at = domain.schedule_instant(st.send_at, st.time_zone, now)
        except ValueError as exc:
            e.error("setup.send_at", str(exc))


def _type_checks(e: _Entry, u: c.UserEntry) -> None:
    """What a user type takes: a phone and a number only if it makes calls, a license
    only if it is licensed; a purchased phone is shipped somewhere."""
    calls = u.user_type in domain.CALLING_TYPES
    if u.phone is not None and u.phone.source != "none" and not calls:
        e.error("phone", f"a '{u.user_type}' user makes no calls and gets no phone")
    if u.phone_number is not None and not calls:
        e.error("phone_number", f"a '{u.user_type}' user makes no calls and gets no phone number")
    if u.phone is not None and u.phone.source == "purchase" and u.shipping_address is None:
        e.error("shipping_address", "is required for a purchased phone")
    if u.license == "purchase" and u.user_type not in domain.LICENSED_TYPES:
        e.error("license", f"a '{u.user_type}' user needs no license")


async def _hash_credentials(hasher: Hasher, st: c.AssignCredentials) -> list[str | None]:
    """[password, pin, answer] hashes; an imported ``password_hash`` is kept as is."""

    async def nothing() -> None:
        return None

    return list(
        await asyncio.gather(
            hasher.hash(st.password) if st.password is not None else nothing(),
            hasher.hash(st.pin) if st.pin is not None else nothing(),
            hasher.hash(domain.normalize_answer(st.security_answer))
            if st.security_answer is not None
            else nothing(),
        )
    )


@dataclass
class _Known:
    """What the database knows of the entries' references, read once for them all."""

    roles: list[domain.Role]
    sites: dict[str, str | None]
    cost_centers: set[str]
    taken_numbers: set[str]
    email_holders: list[dict[str, Any]]
    free_numbers: list[str]
    seen_emails: dict[str, int | None] = field(default_factory=dict)
    seen_numbers: set[str] = field(default_factory=set)


async def _look_up(
    uow: UnitOfWork, account: Account, good: list[c.UserEntry], numbering: bool
) -> _Known:
    """Roles, sites, cost centers, extension numbers and email holders (the emails
    locked until the transaction ends, so two requests cannot both take one); with
    ``numbering``, the lowest free numbers for the entries that give none."""
    emails = [u.email for u in good]
    count = sum(1 for u in good if not u.extension_number) if numbering else 0
    refs = await uow.accounts.references(
        account.account_id,
        sites=[u.site_id for u in good if u.site_id],
        cost_centers=[u.cost_center_id for u in good if u.cost_center_id],
        numbers=[u.extension_number for u in good if u.extension_number],
        lock_emails=emails,
        free_in=account.extension_range() if count else (0, 0),
        free_count=count,
    )
    holders = await uow.users.holders(emails)  # after the locks: a statement of its own
    roles = [_custom_role(r) for r in refs.roles]
    return _Known(
        roles, refs.sites, refs.cost_centers, refs.taken_numbers, holders, refs.free_numbers
    )


async def _account_checks(
    uow: UnitOfWork,
    acc: dict[str, Any],
    entries: list[_Entry],
    actor: Actor,
    *,
    numbering: bool = False,
) -> list[str]:
    """Rules that need the account and the database; every entry, every problem. With
    ``numbering`` (callers hold the account row lock), the lowest free extension numbers
    (not the given ones) for the entries that give none."""
    account = Account.from_row(acc)
    good = [e for e in entries if e.entry is not None]
    known = await _look_up(uow, account, [e.entry for e in good if e.entry], numbering)
    for e in good:
        u = e.entry
        assert u is not None
        problem = account.plan.user_type_problem(u.user_type)
        if problem:
            e.error("user_type", problem)
        _org_checks(e, u, account, known)
        _role_check(e, u, account, known, actor)
        if isinstance(u.setup, c.SendInvite | c.ScheduleInvite) and not account.invitations_allowed:
            e.error(
                "setup.option",
                "invitations by email need the account setting require_unique_email; "
                "use assign_credentials or activate_later",
            )
        _extension_check(e, u, account, known)
        _email_check(e, u, account, known)
        if actor.principal is None and u.phone is not None and u.phone.source == "purchase":
            e.error("phone", "provisioning from other systems cannot buy phones")
        _normalize_phones(e, account.country)
    return known.free_numbers


def _org_checks(e: _Entry, u: c.UserEntry, account: Account, known: _Known) -> None:
    """The site (its time zone noted) and the cost center exist in the account."""
    if u.site_id is not None:
        problem = account.site_problem(u.site_id, known.sites)
        if problem:
            e.error("site_id", problem)
        else:
            e.site_time_zone = known.sites[u.site_id]
    if u.cost_center_id is not None and u.cost_center_id not in known.cost_centers:
        e.error("cost_center_id", "no such cost center in this account")


def _role_check(e: _Entry, u: c.UserEntry, account: Account, known: _Known, actor: Actor) -> None:
    """The role given (else the account's default) exists and grants nothing the
    caller lacks."""
    e.role = _find_role(u.role or account.default_role_id, known.roles)
    p = actor.principal
    if e.role is None:
        e.error("role", "no such role")
    elif p is not None and not p.operator and not e.role.permissions <= p.permissions:
        e.error("role", "grants permissions you do not hold")


def _extension_check(e: _Entry, u: c.UserEntry, account: Account, known: _Known) -> None:
    if u.extension_number is None:
        return
    problem = account.extension_problem(u.extension_number)
    if problem:
        e.error("extension_number", problem)
    elif u.extension_number in known.taken_numbers:
        e.error("extension_number", "is taken in this account")
    elif u.extension_number in known.seen_numbers:
        e.error("extension_number", "is given twice in this request")
    known.seen_numbers.add(u.extension_number)


def _email_check(e: _Entry, u: c.UserEntry, account: Account, known: _Known) -> None:
    key = u.email.lower()
    if key in known.seen_emails:
        e.error("email", f"is also given by entry {known.seen_emails[key]} of this request")
    known.seen_emails.setdefault(key, e.index)
    problem = account.email_problem(u.email, known.email_holders)
    if problem:
        e.error("email", problem)


def _normalize_phones(e: _Entry, country: str | None) -> None:
    """Local formats (``(617) 555-0199``) parsed with the account's country; E.164 kept
    (the contract checked it already and gave it canonical: not parsed twice)."""
    u = e.entry
    assert u is not None
    for fld in ("contact_phone", "mobile_phone"):
        value = getattr(u, fld)
        if value is not None and not value.startswith("+"):
            try:
                setattr(u, fld, domain.local_phone(value, country))
            except ValueError as exc:
                e.error(fld, str(exc))
    number = u.phone_number.number if u.phone_number is not None else None
    if u.phone_number is not None and number is not None and not number.startswith("+"):
        try:
            u.phone_number.number = domain.local_phone(number, country)
        except ValueError as exc:
            e.error("phone_number.number", str(exc))


def _inventory_items(entries: list[_Entry]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for e in entries:
        u = e.entry
        assert u is not None
        ref = str(e.index if e.index is not None else 0)
        if u.user_type in domain.LICENSED_TYPES:
            lic: dict[str, Any] = {"kind": "license", "user_type": u.user_type, "ref": ref}
            if u.license == "purchase":
                lic["purchase"] = True
            items.append(lic)
        if u.phone is not None and u.phone.source == "inventory":
            items.append({"kind": "device", "device_id": u.phone.device_id, "ref": ref})
        elif u.phone is not None and u.phone.source == "purchase":
            items.append({"kind": "device", "model": u.phone.model, "purchase": True, "ref": ref})
        if u.phone_number is not None and u.phone_number.source == "inventory":
            items.append({"kind": "number", "number": u.phone_number.number, "ref": ref})
        elif u.phone_number is not None:
            item: dict[str, Any] = {"kind": "number", "purchase": True, "ref": ref}
            if u.phone_number.area_code:
                item["area_code"] = u.phone_number.area_code
            items.append(item)
    return items


def _raise_if_errors(entries: list[_Entry]) -> None:
    errors = [err for e in entries for err in e.errors]
    if errors:
        bad = sorted({e.index for e in entries if e.errors and e.index is not None})
        msg = f"{len(errors)} problem(s)" + (f" in entries {bad}." if bad else ".")
        raise ValidationFailed(msg, errors)
