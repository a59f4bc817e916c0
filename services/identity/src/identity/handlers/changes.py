"""``identity.v1.users.update``: change a user (DOMAIN.md 6, "Change").

Names, details, site, cost center, role and status as before; and now email (the
uniqueness rules of ``users.add``), user type (the new license reserved through the
account service's allocate call, the old one given back), extension number, phone and
phone number (the old ones given back), emergency location. What goes back to
inventory is named in ``released`` on ``user.updated``; the account service frees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from shared.revocations import revoke_user

from identity import domain
from identity.domain.model import Account, Plan
from identity.handlers.common import (
    _ADMIN_PERMS,
    SOURCE,
    Actor,
    Deps,
    _account,
    _custom_role,
    _find_role,
    _keep_one_full_admin,
    _require_covers,
    _role_permissions,
)
from identity.handlers.provisioning import check_purchase, reserving
from identity.handlers.views import _user_event, to_user
from identity.ports import UnitOfWork
from shared import subjects as s

_PROFILE_FIELDS = (
    "site_id",
    "cost_center_id",
    "job_title",
    "department",
    "call_recording",
)
_INVENTORY_FIELDS = frozenset({"user_type", "phone", "phone_number", "email", "extension_number"})


@dataclass
class _Change:
    acc: dict[str, Any]
    row: dict[str, Any]
    f: c.UserChanges
    given: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    revoke: bool = False  # sessions end: the user is disabled or loses permissions

    def error(self, fld: str, message: str) -> None:
        self.errors.append(field_error(f"fields.{fld}", message))

    @property
    def user_type(self) -> str:
        return str(self.values.get("user_type", self.row["user_type"]))


#: a user that keeps changing between reserving and writing is tried this many times
_ATTEMPTS = 3


class _Changed(Exception):
    """The user changed between reserving its inventory and writing: what to reserve
    differs now."""


async def update_user(cmd: c.UpdateUser, uow: UnitOfWork, p: Principal, deps: Deps) -> c.User:
    """Checked and written in one transaction; a change that reserves inventory reserves
    it with no lock held (like ``users.add``, :func:`provision_request`): the first
    transaction checks everything and ends, the account service is asked, the second
    checks again under the locks and writes, giving the inventory back if anything
    changed or failed."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    actor = Actor(p, cmd.acknowledge_charges)
    for _ in range(_ATTEMPTS):
        async with uow:
            ch = await _checked(cmd, uow, p, actor)
            if not ch.items:  # nothing to reserve: written at once
                new = await _write(ch, uow)
                await uow.commit()
                return to_user(new)
        try:
            async with reserving(deps, actor, cmd.account_id, ch.items) as reserved, uow:
                again = await _checked(cmd, uow, p, actor)
                if again.items != ch.items:
                    raise _Changed
                _apply_allocations(again, reserved.allocations)
                new = await _write(again, uow)
                await uow.commit()
        except _Changed:
            continue  # given back; start over
        return to_user(new)
    raise Conflict("The user kept changing meanwhile; try again.", {"user_id": cmd.user_id})


async def _checked(cmd: c.UpdateUser, uow: UnitOfWork, p: Principal, actor: Actor) -> _Change:
    """Every rule of the change, in ``uow``'s open transaction, nothing written; what it
    would reserve from inventory in ``items``."""
    fields = cmd.fields.model_copy(deep=True)  # checked again from the same input
    given = fields.model_dump(exclude_unset=True)
    # changes that touch inventory, emails or extension numbers are serialised per
    # account (the row lock), like users.add
    acc = await _account(uow, cmd.account_id, lock=bool(_INVENTORY_FIELDS & given.keys()))
    row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
    if row is None:
        raise NotFound("No such user.", {"user_id": cmd.user_id})
    target_perms = await _role_permissions(uow, row)
    _require_covers(p, target_perms, "change")
    ch = _Change(acc, row, fields, given, profile=dict(row["profile"]))
    new_perms = await _role_and_status(ch, uow, p, target_perms)
    await _org(ch, uow)
    await _email(ch, uow)
    await _extension_number(ch, uow)
    _type_and_phones(ch)
    _details(ch)
    if ch.errors:
        raise ValidationFailed(errors=ch.errors)
    check_purchase(ch.items, actor)
    narrowed = "role_id" in ch.values and not target_perms <= new_perms
    disabled = ch.values.get("status") == "Disabled"
    ch.revoke = disabled or narrowed
    if (
        row["status"] == "Enabled"
        and target_perms >= _ADMIN_PERMS
        and (disabled or not new_perms >= _ADMIN_PERMS)
    ):
        await _account(uow, cmd.account_id, lock=True)
        await _keep_one_full_admin(uow, cmd.account_id, cmd.user_id)
    return ch


async def _role_and_status(
    ch: _Change, uow: UnitOfWork, p: Principal, target_perms: frozenset[str]
) -> frozenset[str]:
    """Role (never beyond the caller's own permissions) and status; the new permissions."""
    f, row = ch.f, ch.row
    new_perms = target_perms
    if f.role is not None:
        custom = [_custom_role(r) for r in await uow.roles.for_account(row["account_id"])]
        role = _find_role(f.role, custom)
        if role is None:
            ch.error("role", "no such role")
        elif not p.operator and not role.permissions <= p.permissions:
            raise Forbidden(
                "The role grants permissions you do not hold.",
                {"field": "fields.role", "role": role.name},
            )
        elif role.id != row["role_id"]:
            ch.values |= {"role_id": role.id, "role_name": role.name}
            new_perms = role.permissions | {Perm.SELF}
    if f.status is not None and f.status != row["status"]:
        if row["status"] == "NotActivated":
            ch.error("status", "the user is not activated yet")
        else:
            ch.values["status"] = f.status
    return new_perms


async def _org(ch: _Change, uow: UnitOfWork) -> None:
    f, acc = ch.f, ch.acc
    if "site_id" in ch.given and f.site_id is not None:
        known = await uow.accounts.existing_sites(acc["account_id"], [f.site_id])
        if not acc["multi_site"]:
            ch.error("site_id", "sites exist only on multi-site accounts")
        elif f.site_id not in known:
            ch.error("site_id", "no such site in this account")
        elif ch.profile.get("time_zone_from_site") and known[f.site_id]:
            # a time zone that came from the old site comes from the new one
            regional = dict(ch.profile.get("regional") or {})
            ch.profile["regional"] = regional | {"time_zone": known[f.site_id]}
    if (
        "cost_center_id" in ch.given
        and f.cost_center_id is not None
        and not await uow.accounts.existing_cost_centers(acc["account_id"], [f.cost_center_id])
    ):
        ch.error("cost_center_id", "no such cost center in this account")


async def _email(ch: _Change, uow: UnitOfWork) -> None:
    """The rules of users.add (:meth:`Account.email_problem`)."""
    new = ch.f.email
    if new is None or new == ch.row["email"]:
        return
    key = new.lower()
    account = Account.from_row(ch.acc)
    ch.values |= {"email": new, "exclusive_email": account.require_unique_email}
    if key == ch.row["email"].lower():
        return  # only the case changes: still this user's email
    await uow.users.lock_emails([key])
    problem = account.email_problem(new, await uow.users.holders([key]))
    if problem:
        ch.error("email", problem)


async def _extension_number(ch: _Change, uow: UnitOfWork) -> None:
    number = ch.f.extension_number
    if number is None or number == ch.row["extension_number"]:
        return
    problem = domain.extension_problem(number, int(ch.acc["extension_length"]))
    if problem:
        ch.error("extension_number", problem)
    elif await uow.extensions.taken(ch.acc["account_id"], [number]):
        ch.error("extension_number", "is taken in this account")
    else:
        ch.values["extension_number"] = number


def _type_and_phones(ch: _Change) -> None:
    """User type (license swapped), phone and number (old ones given back); a type that
    makes no calls keeps neither phone nor number."""
    f, row, acc = ch.f, ch.row, ch.acc
    new_type = f.user_type or row["user_type"]
    if f.user_type is not None and f.user_type != row["user_type"]:
        problem = Plan.from_row(acc).user_type_problem(f.user_type)
        if problem:
            ch.error("user_type", problem)
        ch.values["user_type"] = f.user_type
        ch.profile["license"] = False
        if f.user_type in domain.LICENSED_TYPES:
            lic: dict[str, Any] = {"kind": "license", "user_type": f.user_type, "ref": "0"}
            if f.license == "purchase":
                lic["purchase"] = True
            ch.items.append(lic)
        elif f.license == "purchase":
            ch.error("license", f"a '{f.user_type}' user needs no license")
    elif f.license is not None:
        ch.error("license", "is given only with a change of user_type")
    if new_type not in domain.CALLING_TYPES:
        if f.phone is not None and f.phone.source != "none":
            ch.error("phone", f"a '{new_type}' user makes no calls and gets no phone")
        if f.phone_number is not None:
            ch.error("phone_number", f"a '{new_type}' user makes no calls and gets no number")
        ch.profile["phone"] = None
        ch.profile["phone_number"] = None
        return
    _phone(ch)
    _number(ch)


def _phone(ch: _Change) -> None:
    if "phone" not in ch.given:
        return
    choice = ch.f.phone
    old = ch.row["profile"].get("phone") or {}
    if choice is None or choice.source == "none":
        ch.profile["phone"] = {"source": "none"} if choice is not None else None
    elif choice.source == "inventory" and choice.device_id == old.get("device_id"):
        return  # the same desk phone: nothing changes
    else:
        ch.profile["phone"] = choice.model_dump(exclude_none=True)
        item: dict[str, Any] = {"kind": "device", "ref": "0"}
        if choice.source == "inventory":
            item["device_id"] = choice.device_id
        else:
            item |= {"model": choice.model, "purchase": True}
            if ch.f.shipping_address is None and not ch.row["profile"].get("shipping_address"):
                ch.error("shipping_address", "is required for a purchased phone")
        ch.items.append(item)


def _number(ch: _Change) -> None:
    if "phone_number" not in ch.given:
        return
    choice = ch.f.phone_number
    old = ch.row["profile"].get("phone_number") or {}
    if choice is None:
        ch.profile["phone_number"] = None
        return
    if choice.number is not None:
        try:
            choice.number = domain.local_phone(choice.number, ch.acc["facts"].get("country"))
        except ValueError as exc:
            ch.error("phone_number.number", str(exc))
            return
        if choice.source == "inventory" and choice.number == old.get("number"):
            return  # the same number: nothing changes
    ch.profile["phone_number"] = choice.model_dump(exclude_none=True)
    item: dict[str, Any] = {"kind": "number", "ref": "0"}
    if choice.source == "inventory":
        item["number"] = choice.number
    else:
        item["purchase"] = True
        if choice.area_code:
            item["area_code"] = choice.area_code
    ch.items.append(item)


def _details(ch: _Change) -> None:
    f, given = ch.f, ch.given
    for k in ("first_name", "last_name"):
        if given.get(k) is not None:
            ch.values[k] = given[k]
    for k in _PROFILE_FIELDS:
        if k in given:
            ch.profile[k] = given[k]
    for k in ("contact_phone", "mobile_phone"):
        if k not in given:
            continue
        value = getattr(f, k)
        try:
            ch.profile[k] = (
                domain.local_phone(value, ch.acc["facts"].get("country")) if value else None
            )
        except ValueError as exc:
            ch.error(k, str(exc))
    if f.regional is not None:
        ch.profile["regional"] = dict(ch.profile.get("regional") or {}) | f.regional.model_dump(
            exclude_none=True
        )
        if f.regional.time_zone is not None:
            ch.profile["time_zone_from_site"] = False  # the user's own from now on
    if f.shipping_address is not None:
        ch.profile["shipping_address"] = f.shipping_address.model_dump()
    if f.emergency_location is not None:
        # setting the location clears the flag and unblocks calling
        ch.profile["emergency_location"] = f.emergency_location.model_dump()
        ch.values["needs_emergency_location"] = False


def _apply_allocations(ch: _Change, allocations: dict[str, list[dict[str, Any]]]) -> None:
    """What the account service allocated (by ``ref``) shown on the profile."""
    for a in (a for got in allocations.values() for a in got):
        kind = a.get("kind")
        if kind == "license":
            ch.profile["license"] = True
        elif kind == "device" and ch.profile.get("phone") is not None:
            ch.profile["phone"] = dict(ch.profile["phone"]) | {
                k: a[k] for k in ("device_id", "model") if a.get(k)
            }
        elif kind == "number" and ch.profile.get("phone_number") is not None and a.get("number"):
            ch.profile["phone_number"] = dict(ch.profile["phone_number"]) | {"number": a["number"]}


async def _write(ch: _Change, uow: UnitOfWork) -> dict[str, Any]:
    row = ch.row
    values = ch.values | {"profile": ch.profile}
    if {"first_name", "last_name", "email"} & values.keys():
        values["search_text"] = domain.search_text(
            values.get("first_name", row["first_name"]),
            values.get("last_name", row["last_name"]),
            values.get("email", row["email"]),
        )
    new = await uow.users.update(row["id"], values)
    ext: dict[str, Any] = {}
    if "status" in values:
        ext["status"] = values["status"]
    if "extension_number" in values:
        ext["number"] = values["extension_number"]
    if ext:
        await uow.extensions.update(new["extension_id"], **ext)
    gone = domain.released(
        domain.held(row["user_type"], row["profile"]),
        domain.held(new["user_type"], new["profile"]),
    )
    uow.add_event(_user_event(s.USER_UPDATED, new, released=gone))
    if ch.revoke:
        # every session opened before this change ends (docs/security.md)
        uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
    return new
