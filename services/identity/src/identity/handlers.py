"""Use cases of the identity service."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.contracts.account import AccountFacts
from shared.contracts.common import Ok
from shared.errors import (
    AppError,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.messaging.rpc import loc_to_path
from shared.revocations import revoke_session, revoke_user

from identity import domain
from identity.ports import (
    AccountDirectory,
    Hasher,
    Inventory,
    Invitations,
    Signer,
    UnitOfWork,
)
from shared import subjects as s

SOURCE = "identity"
LOGIN_FAILED = "The email or password is not correct."


@dataclass
class Deps:
    hasher: Hasher
    signer: Signer
    inventory: Inventory
    invitations: Invitations
    max_failed_logins: int = 5
    lockout_seconds: int = 900


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


# --- operators and account facts ---------------------------------------------


async def bootstrap_operator(uow: UnitOfWork, hasher: Hasher, email: str, password: str) -> None:
    """The platform operator from configuration (created or its password reset)."""
    hashed = await hasher.hash(password)
    async with uow:
        await uow.operators.upsert(new_id("op"), email, hashed)
        await uow.commit()


async def project_account(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep the account facts identity needs (plan, multi-site, extension length,
    require_unique_email) from the account service's events."""
    facts = AccountFacts.model_validate(data)
    await uow.accounts.upsert_facts(facts.model_dump())


async def learn_account(account_id: str, uow: UnitOfWork, directory: AccountDirectory) -> bool:
    """An account identity has not heard of yet (its ``account.created`` event is still
    on the way): ask the account service once and keep the facts. True if it exists."""
    facts = await directory.fetch_facts(account_id)
    if facts is None:
        return False
    async with uow:
        await uow.accounts.upsert_facts(facts, only_if_absent=True)
        await uow.commit()
    return True


async def project_site(data: dict[str, Any], uow: UnitOfWork) -> None:
    await uow.accounts.upsert_site(
        str(data["site_id"]), str(data["account_id"]), str(data.get("name") or "")
    )


async def project_cost_center(data: dict[str, Any], uow: UnitOfWork) -> None:
    await uow.accounts.upsert_cost_center(
        str(data["cost_center_id"]), str(data["account_id"]), str(data.get("name") or "")
    )


async def project_invite(data: dict[str, Any], at: str, uow: UnitOfWork) -> None:
    """The latest invite (status, send_at) shown on the user."""
    invite = {
        "invite_id": str(data["invite_id"]),
        "status": str(data["status"]),
        "send_at": data.get("send_at"),
    }
    await uow.users.set_invite(str(data["user_id"]), invite, at)


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
        invite=c.InviteInfo.model_validate(inv) if inv else None,
        version=row["version"],
        created_at=row.get("created_at"),
    )


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
        "must_change_password": row["must_change_password"],
        "version": row["version"],
    }


def _user_event(subject: str, row: dict[str, Any], **extra: Any) -> Any:
    return make_event(SOURCE, subject, snapshot(row) | extra, key=row["id"])


def to_extension(row: dict[str, Any]) -> c.Extension:
    return c.Extension.model_validate(row)


# --- roles -------------------------------------------------------------------------


def _role_view(role: domain.Role, account_id: str | None) -> c.Role:
    return c.Role(
        id=role.id,
        account_id=account_id,
        name=role.name,
        permissions=sorted(role.permissions),
        international_calling=role.international_calling,
        predefined=role.predefined,
    )


def _custom_role(row: dict[str, Any]) -> domain.Role:
    return domain.Role(
        row["id"], row["name"], frozenset(row["permissions"]), row["international_calling"], False
    )


def _find_role(ref: str | None, custom: list[domain.Role]) -> domain.Role | None:
    if ref is None:
        return domain.predefined_role(domain.DEFAULT_ROLE)
    found = domain.predefined_role(ref)
    if found:
        return found
    key = ref.strip().casefold()
    return next((r for r in custom if r.id == ref or r.name.casefold() == key), None)


async def list_roles(cmd: c.ListRoles, uow: UnitOfWork, p: Principal) -> c.RoleList:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        custom = await uow.roles.for_account(cmd.account_id)
    items = [_role_view(r, None) for r in domain.PREDEFINED_ROLES]
    items += [_role_view(_custom_role(r), cmd.account_id) for r in custom]
    return c.RoleList(items=items)


async def create_role(cmd: c.CreateRole, uow: UnitOfWork, p: Principal) -> c.Role:
    p.require(Perm.ROLES_MANAGE, cmd.account_id)
    errors = []
    unknown = domain.unknown_permissions(cmd.permissions)
    if unknown:
        errors.append(field_error("permissions", f"unknown permissions: {', '.join(unknown)}"))
    if domain.is_predefined_name(cmd.name):
        errors.append(field_error("name", "is the name of a predefined role"))
    if errors:
        raise ValidationFailed(errors=errors)
    if not p.operator and not set(cmd.permissions) <= p.permissions:
        raise Forbidden("A role may not grant permissions the caller does not hold.")
    role = domain.Role(
        new_id("role"), cmd.name, frozenset(cmd.permissions), cmd.international_calling, False
    )
    async with uow:
        await _account(uow, cmd.account_id)
        await uow.roles.add(
            {
                "id": role.id,
                "account_id": cmd.account_id,
                "name": role.name,
                "permissions": sorted(role.permissions),
                "international_calling": role.international_calling,
            }
        )
        view = _role_view(role, cmd.account_id)
        uow.add_event(make_event(SOURCE, s.ROLE_CREATED, view.model_dump(), key=role.id))
        await uow.commit()
    return view


# --- adding users -----------------------------------------------------------------


NO_SUCH_ACCOUNT = "No such account."


async def _account(uow: UnitOfWork, account_id: str, *, lock: bool = False) -> dict[str, Any]:
    acc = await uow.accounts.get(account_id, lock=lock)
    if acc is None:
        raise NotFound(NO_SUCH_ACCOUNT, {"account_id": account_id})
    return acc


@dataclass
class Actor:
    """Who adds users: an admin's session, or a trusted provisioning system (None)."""

    principal: Principal | None
    acknowledge_charges: bool = False

    @property
    def purchase_allowed(self) -> bool:
        p = self.principal
        return p is not None and (p.operator or Perm.INVENTORY_PURCHASE in p.permissions)


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
    calls = u.user_type in domain.CALLING_TYPES
    if u.phone is not None and u.phone.source != "none" and not calls:
        e.error("phone", f"a '{u.user_type}' user makes no calls and gets no phone")
    if u.phone_number is not None and not calls:
        e.error("phone_number", f"a '{u.user_type}' user makes no calls and gets no phone number")
    if u.phone is not None and u.phone.source == "purchase" and u.shipping_address is None:
        e.error("shipping_address", "is required for a purchased phone")
    st = u.setup
    if isinstance(st, c.AssignCredentials):
        if st.password is not None:
            for msg in domain.password_problems(
                st.password, first_name=u.first_name, last_name=u.last_name, email=u.email
            ):
                e.error("setup.password", msg)
        if st.pin is not None:
            for msg in domain.pin_problems(st.pin, u.extension_number):
                e.error("setup.pin", msg)
        if st.security_answer is not None:
            for msg in domain.answer_problems(st.security_answer):
                e.error("setup.security_answer", msg)
    elif isinstance(st, c.ScheduleInvite):
        try:
            e.send_at = domain.schedule_instant(st.send_at, st.time_zone, now)
        except ValueError as exc:
            e.error("setup.send_at", str(exc))


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


async def _account_checks(
    uow: UnitOfWork, acc: dict[str, Any], entries: list[_Entry], actor: Actor
) -> None:
    """Rules that need the account and the database; every entry, every problem."""
    facts = acc["facts"]
    account_id = acc["account_id"]
    good = [e for e in entries if e.entry is not None]
    custom = [_custom_role(r) for r in await uow.roles.for_account(account_id)]
    sites = await uow.accounts.existing_sites(
        account_id, [e.entry.site_id for e in good if e.entry and e.entry.site_id]
    )
    ccs = await uow.accounts.existing_cost_centers(
        account_id, [e.entry.cost_center_id for e in good if e.entry and e.entry.cost_center_id]
    )
    length = int(acc["extension_length"])
    given = [e.entry.extension_number for e in good if e.entry and e.entry.extension_number]
    taken = await uow.extensions.taken(account_id, given)
    emails = [e.entry.email for e in good if e.entry]
    await uow.users.lock_emails(emails)
    holders = await uow.users.holders(emails)
    unique = bool(acc["require_unique_email"])
    seen_emails: dict[str, int | None] = {}
    seen_numbers: set[str] = set()
    p = actor.principal
    for e in good:
        u = e.entry
        assert u is not None
        if u.user_type not in facts.get("user_types", []):
            e.error("user_type", f"the '{acc['plan']}' plan does not allow '{u.user_type}' users")
        if u.site_id is not None:
            if not acc["multi_site"]:
                e.error("site_id", "sites exist only on multi-site accounts")
            elif u.site_id not in sites:
                e.error("site_id", "no such site in this account")
        if u.cost_center_id is not None and u.cost_center_id not in ccs:
            e.error("cost_center_id", "no such cost center in this account")
        e.role = _find_role(u.role, custom)
        if e.role is None:
            e.error("role", "no such role")
        elif p is not None and not p.operator and not e.role.permissions <= p.permissions:
            e.error("role", "grants permissions you do not hold")
        if isinstance(u.setup, c.SendInvite | c.ScheduleInvite) and not unique:
            e.error(
                "setup.option",
                "invitations by email need the account setting require_unique_email; "
                "use assign_credentials or activate_later",
            )
        if u.extension_number is not None:
            problem = domain.extension_problem(u.extension_number, length)
            if problem:
                e.error("extension_number", problem)
            elif u.extension_number in taken:
                e.error("extension_number", "is taken in this account")
            elif u.extension_number in seen_numbers:
                e.error("extension_number", "is given twice in this request")
            seen_numbers.add(u.extension_number)
        key = u.email.lower()
        if key in seen_emails:
            e.error("email", f"is also given by entry {seen_emails[key]} of this request")
        seen_emails.setdefault(key, e.index)
        for h in holders:
            if h["email"] != key:
                continue
            if h["account_id"] == account_id:
                e.error("email", "already belongs to a user of this account")
                break
            if unique or h["exclusive_email"]:
                e.error("email", "already belongs to a user (emails are unique across accounts)")
                break
        if actor.principal is None and u.phone is not None and u.phone.source == "purchase":
            e.error("phone", "provisioning from other systems cannot buy phones")


def _inventory_items(entries: list[_Entry]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for e in entries:
        u = e.entry
        assert u is not None
        ref = str(e.index if e.index is not None else 0)
        if u.user_type in domain.LICENSED_TYPES:
            items.append({"kind": "license", "user_type": u.user_type, "ref": ref})
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


@dataclass
class Provisioned:
    rows: list[dict[str, Any]]
    allocation_id: str | None


async def provision(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    account_id: str,
    raws: list[dict[str, Any]],
    *,
    prefix: str = "users",
    extension_id: str | None = None,
    allocation_id: str | None = None,
    extra_event_data: dict[str, Any] | None = None,
) -> Provisioned:
    """Validate every entry (all problems, with entry index and field), then create the
    extensions and users in the caller's open transaction. All or nothing."""
    if len(raws) > domain.MAX_USERS_PER_ADD:
        raise LimitExceeded(
            f"At most {domain.MAX_USERS_PER_ADD} users per request.",
            {"field": prefix, "max": domain.MAX_USERS_PER_ADD, "given": len(raws)},
        )
    bulk = prefix == "users"
    entries = [
        _parse(raw, (prefix, i) if bulk else (prefix,), i if bulk else None)
        for i, raw in enumerate(raws)
    ]
    now = _now()
    for e in entries:
        if e.entry is not None:
            _pure_checks(e, now)
    clean = not any(e.errors for e in entries)
    if clean:
        # Hash while the database checks run: argon2 in threads, off the event loop.
        for e in entries:
            if e.entry is not None and isinstance(e.entry.setup, c.AssignCredentials):
                e.hashes = asyncio.ensure_future(_hash_credentials(deps.hasher, e.entry.setup))
    try:
        acc = await _account(uow, account_id, lock=True)
        if acc["status"] != "Active":
            raise Conflict("The account is not active.", {"status": acc["status"]})
        await _account_checks(uow, acc, entries, actor)
        ext: dict[str, Any] | None = None
        if extension_id is not None:
            ext = await uow.extensions.get(account_id, extension_id, lock=True)
            if ext is None:
                raise NotFound("No such extension.", {"extension_id": extension_id})
            if ext["status"] != "Unassigned":
                raise Conflict("The extension already has a user.", {"extension_id": extension_id})
            u0 = entries[0].entry
            if u0 is not None and u0.extension_number not in (None, ext["number"]):
                entries[0].error("extension_number", "differs from the extension's number")
        items = _inventory_items([e for e in entries if e.entry is not None])
        _raise_if_errors(entries)
        if any(i.get("purchase") for i in items) and not actor.acknowledge_charges:
            err = field_error("acknowledge_charges", "must be true to buy phones or numbers")
            raise ValidationFailed("Buying needs an acknowledgement of the charges.", [err])
        if any(i.get("purchase") for i in items) and not actor.purchase_allowed:
            raise Forbidden(
                f"Missing permission '{Perm.INVENTORY_PURCHASE}'.",
                {"permission": Perm.INVENTORY_PURCHASE},
            )
        # Extension numbers: the given ones, then the lowest free ones in one statement.
        if ext is not None:
            entries[0].number = ext["number"]
        else:
            lo, hi = domain.extension_range(int(acc["extension_length"]))
            given = [
                e.entry.extension_number for e in entries if e.entry and e.entry.extension_number
            ]
            need = [e for e in entries if e.entry and not e.entry.extension_number]
            free = await uow.extensions.next_free(account_id, lo, hi, len(need), given)
            if len(free) < len(need):
                raise LimitExceeded("The account has no free extension numbers left.")
            for e, number in zip(need, free, strict=False):
                e.number = number
            for e in entries:
                if e.entry and e.entry.extension_number:
                    e.number = e.entry.extension_number
        for e in entries:
            u = e.entry
            if (
                u
                and isinstance(u.setup, c.AssignCredentials)
                and u.setup.pin is not None
                and e.number == u.setup.pin
            ):
                e.error("setup.pin", "must not be the user's extension number")
        _raise_if_errors(entries)
        hashes: dict[int, list[str | None]] = {}
        for e in entries:
            if e.hashes is not None:
                got = await e.hashes
                st = e.entry.setup if e.entry is not None else None
                if isinstance(st, c.AssignCredentials) and st.password_hash is not None:
                    got[0] = st.password_hash
                hashes[id(e)] = got
    finally:
        for e in entries:
            if e.hashes is not None and not e.hashes.done():
                e.hashes.cancel()

    allocations: dict[str, list[dict[str, Any]]] = {}
    if items:
        allocation_id = allocation_id or new_id("alloc")
        reply = await deps.inventory.allocate(
            request_id=allocation_id,
            account_id=account_id,
            acknowledge_charges=actor.acknowledge_charges,
            purchase_allowed=actor.purchase_allowed,
            items=items,
        )
        for a in reply.get("allocations", []):
            allocations.setdefault(str(a.get("ref")), []).append(a)
    else:
        allocation_id = None
    try:
        rows = _build_rows(acc, entries, hashes, allocations)
        if ext is not None:
            rows[0]["extension_id"] = ext["id"]
        ext_rows = [
            {
                "id": r["extension_id"],
                "account_id": account_id,
                "number": r["extension_number"],
                "status": r["status"],
                "user_id": r["id"],
            }
            for r in rows
        ]
        if ext is not None:
            await uow.extensions.update(ext["id"], status=rows[0]["status"], user_id=rows[0]["id"])
        else:
            await uow.extensions.insert_many(ext_rows)
        await uow.users.insert_many(rows)
        extra = extra_event_data or {}
        for e, r in zip(entries, rows, strict=True):
            assert e.entry is not None
            uow.add_event(_user_event(s.USER_ADDED, r, setup_option=r["setup_option"], **extra))
            if ext is not None:
                uow.add_event(
                    make_event(
                        SOURCE,
                        s.EXTENSION_ASSIGNED,
                        {
                            "extension_id": ext["id"],
                            "account_id": account_id,
                            "number": ext["number"],
                            "status": r["status"],
                            "user_id": r["id"],
                        },
                        key=ext["id"],
                    )
                )
            st = e.entry.setup
            if isinstance(st, c.SendInvite | c.ScheduleInvite):
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
                uow.add_event(make_event(SOURCE, s.USER_INVITE_REQUESTED, data, key=r["id"]))
    except BaseException:
        if allocation_id:
            await _release_quietly(deps, allocation_id)
        raise
    return Provisioned(rows, allocation_id)


async def _release_quietly(deps: Deps, allocation_id: str) -> None:
    with contextlib.suppress(AppError, asyncio.CancelledError):
        await asyncio.shield(deps.inventory.release(allocation_id))


def _build_rows(
    acc: dict[str, Any],
    entries: list[_Entry],
    hashes: dict[int, list[str | None]],
    allocations: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    facts = acc["facts"]
    rows = []
    created = _now()
    for e in entries:
        u = e.entry
        assert u is not None and e.role is not None and e.number is not None
        reg = u.regional or c.Regional()
        language = reg.language or facts.get("default_language") or "en-US"
        regional = {
            "language": language,
            "greeting_language": reg.greeting_language or language,
            "regional_format": reg.regional_format or facts.get("regional_format") or language,
            "time_zone": reg.time_zone or facts.get("default_time_zone") or "UTC",
        }
        got = allocations.get(str(e.index if e.index is not None else 0), [])
        phone = u.phone.model_dump(exclude_none=True) if u.phone else None
        number = u.phone_number.model_dump(exclude_none=True) if u.phone_number else None
        for a in got:
            if a.get("kind") == "device" and phone is not None:
                phone |= {k: a[k] for k in ("device_id", "model") if a.get(k)}
            if a.get("kind") == "number" and number is not None and a.get("number"):
                number["number"] = a["number"]
        profile = {
            "site_id": u.site_id,
            "cost_center_id": u.cost_center_id,
            "contact_phone": u.contact_phone,
            "mobile_phone": u.mobile_phone,
            "job_title": u.job_title,
            "department": u.department,
            "regional": regional,
            "call_recording": u.call_recording,
            "emergency_location": u.emergency_location.model_dump()
            if u.emergency_location
            else None,
            "phone": phone,
            "phone_number": number,
            "shipping_address": u.shipping_address.model_dump() if u.shipping_address else None,
            "license": any(a.get("kind") == "license" for a in got),
        }
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
                "exclusive_email": bool(acc["require_unique_email"]),
                "user_type": u.user_type,
                "role_id": e.role.id,
                "role_name": e.role.name,
                "setup_option": st.option,
                "profile": profile,
                "needs_emergency_location": u.emergency_location is None,
                "must_change_password": isinstance(st, c.AssignCredentials)
                and st.temporary_password,
                "password_hash": h[0],
                "pin_hash": h[1],
                "security_question": st.security_question
                if isinstance(st, c.AssignCredentials)
                else None,
                "security_answer_hash": h[2],
                "version": 1,
                "created_at": created,
            }
        )
    return rows


async def add_users(cmd: c.AddUsers, uow: UnitOfWork, p: Principal, deps: Deps) -> c.UserList:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    actor = Actor(p, cmd.acknowledge_charges)
    async with uow:
        done = await provision(uow, deps, actor, cmd.account_id, cmd.users)
        try:
            await uow.commit()
        except BaseException:
            if done.allocation_id:
                await _release_quietly(deps, done.allocation_id)
            raise
    return c.UserList(users=[to_user(r) for r in done.rows])


async def assign_extension(
    cmd: c.AssignExtension, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    actor = Actor(p, cmd.acknowledge_charges)
    async with uow:
        done = await provision(
            uow,
            deps,
            actor,
            cmd.account_id,
            [cmd.user],
            prefix="user",
            extension_id=cmd.extension_id,
        )
        try:
            await uow.commit()
        except BaseException:
            if done.allocation_id:
                await _release_quietly(deps, done.allocation_id)
            raise
    return to_user(done.rows[0])


# --- extensions -----------------------------------------------------------------


async def create_extension(cmd: c.CreateExtension, uow: UnitOfWork, p: Principal) -> c.Extension:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        acc = await _account(uow, cmd.account_id, lock=True)
        length = int(acc["extension_length"])
        if cmd.number is not None:
            problem = domain.extension_problem(cmd.number, length)
            if problem:
                raise ValidationFailed.single("number", problem)
            number = cmd.number
        else:
            lo, hi = domain.extension_range(length)
            free = await uow.extensions.next_free(cmd.account_id, lo, hi, 1, [])
            if not free:
                raise LimitExceeded("The account has no free extension numbers left.")
            number = free[0]
        row = {
            "id": new_id("ext"),
            "account_id": cmd.account_id,
            "number": number,
            "status": "Unassigned",
            "user_id": None,
        }
        await uow.extensions.insert_many([row])
        ext = to_extension(row)
        uow.add_event(
            make_event(SOURCE, s.EXTENSION_CREATED, ext.model_dump(mode="json"), key=ext.id)
        )
        await uow.commit()
    return ext


async def list_extensions(cmd: c.ListExtensions, uow: UnitOfWork, p: Principal) -> c.ExtensionPage:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.extensions.page(cmd.account_id, cmd.status, cmd.cursor, cmd.limit)
    items = [to_extension(r) for r in rows[: cmd.limit]]
    return c.ExtensionPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


# --- users ------------------------------------------------------------------------


_ADMIN_PERMS = frozenset(Perm.ALL) - {Perm.SELF}


def _require_covers(p: Principal, target: frozenset[str], action: str) -> None:
    """Least privilege on the target: nobody acts on a user holding permissions the
    caller lacks (operators excepted)."""
    if p.operator:
        return
    missing = sorted((target - {Perm.SELF}) - p.permissions)
    if missing:
        raise Forbidden(
            f"That user holds permissions you lack; you may not {action} them.",
            {"missing_permissions": missing},
        )


async def _full_role_ids(uow: UnitOfWork, account_id: str) -> list[str]:
    custom = [_custom_role(r) for r in await uow.roles.for_account(account_id)]
    return [r.id for r in (*domain.PREDEFINED_ROLES, *custom) if r.permissions >= _ADMIN_PERMS]


async def _keep_one_full_admin(uow: UnitOfWork, account_id: str, user_id: str) -> None:
    """The last enabled user holding every permission cannot lose them (``conflict``).
    Called with the account row locked, so two admins cannot demote each other at once."""
    others = await uow.users.count_enabled_with_roles(
        account_id, await _full_role_ids(uow, account_id), user_id
    )
    if others == 0:
        raise Conflict(
            "This is the account's last enabled user holding every permission; "
            "it cannot be disabled, demoted or removed.",
            {"user_id": user_id, "rule": "last_full_admin"},
        )


def _may_see(p: Principal, account_id: str, user_id: str, perm: str) -> None:
    if p.account_id == account_id and p.user_id == user_id and not p.operator:
        return
    p.require(perm, account_id)


async def get_user(cmd: c.GetUser, uow: UnitOfWork, p: Principal) -> c.User:
    _may_see(p, cmd.account_id, cmd.user_id, Perm.USERS_READ)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
    if row is None:
        raise NotFound("No such user.", {"user_id": cmd.user_id})
    return to_user(row)


async def list_users(cmd: c.ListUsers, uow: UnitOfWork, p: Principal) -> c.UserPage:
    p.require(Perm.USERS_READ, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        rows = await uow.users.page(cmd.account_id, cmd.query, cmd.status, cmd.cursor, cmd.limit)
    items = [to_user(r) for r in rows[: cmd.limit]]
    return c.UserPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def update_user(cmd: c.UpdateUser, uow: UnitOfWork, p: Principal) -> c.User:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    f = cmd.fields
    given = f.model_dump(exclude_unset=True)
    async with uow:
        acc = await _account(uow, cmd.account_id)
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        errors: list[dict[str, Any]] = []
        values: dict[str, Any] = {}
        profile = dict(row["profile"])
        if "site_id" in given and f.site_id is not None:
            if not acc["multi_site"]:
                errors.append(
                    field_error("fields.site_id", "sites exist only on multi-site accounts")
                )
            elif not await uow.accounts.existing_sites(cmd.account_id, [f.site_id]):
                errors.append(field_error("fields.site_id", "no such site in this account"))
        if (
            "cost_center_id" in given
            and f.cost_center_id is not None
            and not await uow.accounts.existing_cost_centers(cmd.account_id, [f.cost_center_id])
        ):
            errors.append(
                field_error("fields.cost_center_id", "no such cost center in this account")
            )
        target_perms = await _role_permissions(uow, row)
        _require_covers(p, target_perms, "change")
        new_perms = target_perms
        if f.role is not None:
            custom = [_custom_role(r) for r in await uow.roles.for_account(cmd.account_id)]
            role = _find_role(f.role, custom)
            if role is None:
                errors.append(field_error("fields.role", "no such role"))
            elif not p.operator and not role.permissions <= p.permissions:
                raise Forbidden(
                    "The role grants permissions you do not hold.",
                    {"field": "fields.role", "role": role.name},
                )
            elif role.id != row["role_id"]:
                values |= {"role_id": role.id, "role_name": role.name}
                new_perms = role.permissions | {Perm.SELF}
        if f.status is not None and f.status != row["status"]:
            if row["status"] == "NotActivated":
                errors.append(field_error("fields.status", "the user is not activated yet"))
            else:
                values["status"] = f.status
        if errors:
            raise ValidationFailed(errors=errors)
        narrowed = "role_id" in values and not target_perms <= new_perms
        disabled = values.get("status") == "Disabled"
        if (
            row["status"] == "Enabled"
            and target_perms >= _ADMIN_PERMS
            and (disabled or not new_perms >= _ADMIN_PERMS)
        ):
            await _account(uow, cmd.account_id, lock=True)
            await _keep_one_full_admin(uow, cmd.account_id, cmd.user_id)
        for k in ("first_name", "last_name"):
            if given.get(k) is not None:
                values[k] = given[k]
        for k in (
            "site_id",
            "cost_center_id",
            "contact_phone",
            "mobile_phone",
            "job_title",
            "department",
            "call_recording",
        ):
            if k in given:
                profile[k] = given[k]
        if f.regional is not None:
            profile["regional"] = dict(profile.get("regional") or {}) | f.regional.model_dump(
                exclude_none=True
            )
        values["profile"] = profile
        new = await uow.users.update(cmd.user_id, values)
        if "status" in values:
            await uow.extensions.update(new["extension_id"], status=values["status"])
        uow.add_event(_user_event(s.USER_UPDATED, new))
        if disabled or narrowed:
            # every session opened before this change ends (docs/security.md)
            uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
        await uow.commit()
    return to_user(new)


async def set_emergency_location(
    cmd: c.SetEmergencyLocation, uow: UnitOfWork, p: Principal
) -> c.User:
    """Setting the location clears the flag that blocks calling."""
    _may_see(p, cmd.account_id, cmd.user_id, Perm.USERS_MANAGE)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        if p.user_id != row["id"]:
            _require_covers(p, await _role_permissions(uow, row), "change")
        profile = dict(row["profile"]) | {"emergency_location": cmd.location.model_dump()}
        new = await uow.users.update(
            cmd.user_id, {"profile": profile, "needs_emergency_location": False}
        )
        uow.add_event(_user_event(s.USER_UPDATED, new))
        await uow.commit()
    return to_user(new)


async def assign_credentials(
    cmd: c.AssignUserCredentials, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    """A user left NotActivated ("activate later", or invited) becomes Enabled."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        _require_covers(p, await _role_permissions(uow, row), "set the credentials of")
    errors = [
        field_error("password", m)
        for m in domain.password_problems(
            cmd.password,
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
        )
    ]
    errors += [field_error("pin", m) for m in domain.pin_problems(cmd.pin, row["extension_number"])]
    errors += [
        field_error("security_answer", m) for m in domain.answer_problems(cmd.security_answer)
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    st = c.AssignCredentials(
        option="assign_credentials",
        password=cmd.password,
        temporary_password=cmd.temporary_password,
        pin=cmd.pin,
        security_question=cmd.security_question,
        security_answer=cmd.security_answer,
    )
    pw, pin, answer = await _hash_credentials(deps.hasher, st)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        assert row is not None
        if row["status"] != "NotActivated":
            raise Conflict("The user is already activated.", {"status": row["status"]})
        # the role may have changed while the hashes were computed
        _require_covers(p, await _role_permissions(uow, row), "set the credentials of")
        new = await uow.users.update(
            cmd.user_id,
            {
                "status": "Enabled",
                "password_hash": pw,
                "pin_hash": pin,
                "security_question": cmd.security_question,
                "security_answer_hash": answer,
                "must_change_password": cmd.temporary_password,
            },
        )
        await uow.extensions.update(new["extension_id"], status="Enabled")
        uow.add_event(_user_event(s.USER_ACTIVATED, new))
        await uow.commit()
    return to_user(new)


async def remove_user(cmd: c.RemoveUser, uow: UnitOfWork, p: Principal) -> c.User:
    """The user is gone (its row is deleted, so its email is free again and it cannot
    sign in); its extension goes back to Unassigned, or is deleted on request; every
    session it holds ends; ``user.removed`` tells the other services (invites
    cancelled, agent dropped). Removing a removed user answers ``not_found``."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        await _account(uow, cmd.account_id)
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        target_perms = await _role_permissions(uow, row)
        _require_covers(p, target_perms, "remove")
        if row["status"] == "Enabled" and target_perms >= _ADMIN_PERMS:
            await _account(uow, cmd.account_id, lock=True)
            await _keep_one_full_admin(uow, cmd.account_id, cmd.user_id)
        await uow.users.delete(cmd.user_id)
        if cmd.delete_extension:
            await uow.extensions.delete(row["extension_id"])
        else:
            await uow.extensions.update(row["extension_id"], status="Unassigned", user_id=None)
        gone = row | {"status": "Removed", "version": row["version"] + 1}
        data = {"user_id": row["id"], "account_id": row["account_id"], "version": gone["version"]}
        uow.add_event(make_event(SOURCE, s.USER_REMOVED, data, key=row["id"]))
        # every session opened before (uv <= the last version) ends everywhere
        uow.add_event(revoke_user(SOURCE, row["id"], gone["version"]))
        await uow.commit()
    return to_user(gone)


async def reset_credentials(
    cmd: c.ResetUserCredentials, uow: UnitOfWork, p: Principal, deps: Deps
) -> c.User:
    """An administrator sets a new password (temporary by default) and/or PIN of an
    activated user; every session of the user ends. Nothing is generated: at least
    one of ``password`` and ``pin`` is required."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    if cmd.password is None and cmd.pin is None:
        raise ValidationFailed(
            errors=[field_error("password", "give a new password, a new PIN, or both")]
        )
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        _require_covers(p, await _role_permissions(uow, row), "reset the credentials of")
    if row["status"] == "NotActivated":
        raise Conflict(
            "The user is not activated yet; use users.assign_credentials.",
            {"status": row["status"]},
        )
    errors: list[dict[str, Any]] = []
    if cmd.password is not None:
        errors += [
            field_error("password", m)
            for m in domain.password_problems(
                cmd.password,
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=row["email"],
            )
        ]
    if cmd.pin is not None:
        errors += [
            field_error("pin", m) for m in domain.pin_problems(cmd.pin, row["extension_number"])
        ]
    if errors:
        raise ValidationFailed(errors=errors)
    values: dict[str, Any] = {}
    if cmd.password is not None:
        values["password_hash"] = await deps.hasher.hash(cmd.password)
        values["must_change_password"] = cmd.temporary_password
    if cmd.pin is not None:
        values["pin_hash"] = await deps.hasher.hash(cmd.pin)
    async with uow:
        row = await uow.users.get(cmd.account_id, cmd.user_id, lock=True)
        if row is None:
            raise NotFound("No such user.", {"user_id": cmd.user_id})
        # the role may have changed while the hashes were computed
        _require_covers(p, await _role_permissions(uow, row), "reset the credentials of")
        new = await uow.users.update(cmd.user_id, values)
        uow.add_event(_user_event(s.USER_UPDATED, new))
        # every session of the user ends: it signs in with the new credentials
        uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
        await uow.commit()
    return to_user(new)


async def check_email(cmd: c.CheckEmail, uow: UnitOfWork, p: Principal) -> c.EmailAvailability:
    p.require(Perm.USERS_READ)
    async with uow:
        used = await uow.users.email_in_use(cmd.email)
    return c.EmailAvailability(email=cmd.email, available=not used)


# --- sign-in ------------------------------------------------------------------------


def _session_for(
    row: dict[str, Any], perms: frozenset[str], signer: Signer, portal_id: str | None = None
) -> c.Session:
    temporary = bool(row["must_change_password"])
    if temporary:
        # a temporary password opens a session that can only change that password
        perms = frozenset({Perm.SELF})
    token, exp = signer.mint(
        user_id=row["id"],
        account_id=row["account_id"],
        permissions=perms,
        email=row["email"],
        portal_id=portal_id,
        user_version=row.get("version"),
        password_change_only=temporary,
    )
    return c.Session(
        token=token,
        expires_at=_iso(exp),
        account_id=row["account_id"],
        user_id=row["id"],
        must_change_password=row["must_change_password"],
        needs_emergency_location=row["needs_emergency_location"],
        permissions=sorted(perms),
        portal_id=portal_id,
    )


async def _role_permissions(uow: UnitOfWork, row: dict[str, Any]) -> frozenset[str]:
    role = domain.predefined_role(row["role_id"])
    if role is None:
        custom = [_custom_role(r) for r in await uow.roles.for_account(row["account_id"])]
        role = next((r for r in custom if r.id == row["role_id"]), None)
    return (role.permissions if role else frozenset()) | {Perm.SELF}


async def login(cmd: c.Login, uow: UnitOfWork, deps: Deps) -> c.Session:
    """Generic failure for a wrong password and an unknown email alike, in the same time
    (a hash is always verified). Repeated failures lock the email for a while, whether
    or not it exists; the lock lives in the database (restarts, replicas)."""
    async with uow:
        locked = await uow.throttle.locked_until(cmd.email)
        op = await uow.operators.by_email(cmd.email)
        candidates = [] if op else await uow.users.for_login(cmd.email)
    if locked is not None:
        raise LimitExceeded(
            "Too many failed sign-in attempts. Try again later.",
            {"retry_after_seconds": max(1, int((locked - _now()).total_seconds()))},
        )
    if op is not None:
        ok = await deps.hasher.verify(op["password_hash"], cmd.password)
        if ok:
            async with uow:
                await uow.throttle.clear(cmd.email)
                await uow.commit()
            token, exp = deps.signer.mint(
                user_id=op["id"],
                account_id=None,
                permissions=Perm.ALL,
                operator=True,
                email=op["email"],
            )
            return c.Session(
                token=token,
                expires_at=_iso(exp),
                account_id=None,
                user_id=op["id"],
                operator=True,
                permissions=list(Perm.ALL),
            )
        return await _failed(cmd, uow, deps)
    usable = [
        r
        for r in candidates
        if r["status"] == "Enabled"
        and r["password_hash"]
        and (cmd.account_id is None or r["account_id"] == cmd.account_id)
    ]
    if not usable:
        await deps.hasher.verify(None, cmd.password)
        return await _failed(cmd, uow, deps)
    results = await asyncio.gather(
        *(deps.hasher.verify(r["password_hash"], cmd.password) for r in usable)
    )
    matched = [r for r, ok in zip(usable, results, strict=True) if ok]
    if not matched:
        return await _failed(cmd, uow, deps)
    if len(matched) > 1:
        raise Conflict(
            "This email signs in to several accounts; give account_id.",
            {"field": "account_id", "account_ids": [r["account_id"] for r in matched]},
        )
    row = matched[0]
    rehashed = None
    if deps.hasher.needs_rehash(row["password_hash"]):
        # an imported hash (bcrypt, other argon2 parameters) becomes ours
        rehashed = await deps.hasher.hash(cmd.password)
    async with uow:
        await uow.throttle.clear(cmd.email)
        if rehashed is not None:
            await uow.users.replace_password_hash(row["id"], row["password_hash"], rehashed)
        perms = await _role_permissions(uow, row)
        await uow.commit()
    return _session_for(row, perms, deps.signer)


async def _failed(cmd: c.Login, uow: UnitOfWork, deps: Deps) -> c.Session:
    async with uow:
        await uow.throttle.failed(cmd.email, deps.max_failed_logins, deps.lockout_seconds)
        await uow.commit()
    raise Unauthenticated(LOGIN_FAILED)


async def change_password(cmd: c.ChangePassword, uow: UnitOfWork, p: Principal, deps: Deps) -> Ok:
    if p.operator or p.account_id is None:
        raise Forbidden("Only users of an account change their password here.")
    async with uow:
        row = await uow.users.get(p.account_id, p.user_id)
    if row is None or not row["password_hash"]:
        raise Unauthenticated(LOGIN_FAILED)
    if not await deps.hasher.verify(row["password_hash"], cmd.current_password):
        raise Unauthenticated("The current password is not correct.")
    problems = domain.password_problems(
        cmd.new_password,
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
    )
    if cmd.new_password == cmd.current_password:
        problems.append("must differ from the current password")
    if problems:
        raise ValidationFailed(errors=[field_error("new_password", m) for m in problems])
    hashed = await deps.hasher.hash(cmd.new_password)
    async with uow:
        new = await uow.users.update(
            row["id"], {"password_hash": hashed, "must_change_password": False}
        )
        uow.add_event(_user_event(s.USER_UPDATED, new))
        # every session of the user ends, this one too: sign in with the new password
        uow.add_event(revoke_user(SOURCE, new["id"], new["version"]))
        await uow.commit()
    return Ok()


async def logout(uow: UnitOfWork, p: Principal) -> Ok:
    """The session in the header stops working on every service."""
    async with uow:
        uow.add_event(revoke_session(SOURCE, p.token_id))
        await uow.commit()
    return Ok()


async def complete_activation(cmd: c.CompleteActivation, uow: UnitOfWork, deps: Deps) -> c.User:
    """Redeem the invitation (dry run, check the password against that user, then
    consume), set the password; the user is Enabled."""
    invite = await deps.invitations.redeem(cmd.token, dry_run=True)
    async with uow:
        row = await uow.users.get(str(invite["account_id"]), str(invite["user_id"]))
    if row is None:
        raise NotFound("The invitation is not valid.", {"reason": "invalid"})
    if row["status"] != "NotActivated":
        raise Conflict("The user is already activated.", {"reason": "used"})
    problems = domain.password_problems(
        cmd.password, first_name=row["first_name"], last_name=row["last_name"], email=row["email"]
    )
    if problems:
        raise ValidationFailed(errors=[field_error("password", m) for m in problems])
    hashed = await deps.hasher.hash(cmd.password)
    await deps.invitations.redeem(cmd.token, dry_run=False)
    async with uow:
        row = await uow.users.get(row["account_id"], row["id"], lock=True)
        assert row is not None
        if row["status"] != "NotActivated":
            raise Conflict("The user is already activated.", {"reason": "used"})
        new = await uow.users.update(
            row["id"], {"status": "Enabled", "password_hash": hashed, "must_change_password": False}
        )
        await uow.extensions.update(new["extension_id"], status="Enabled")
        uow.add_event(_user_event(s.USER_ACTIVATED, new))
        await uow.commit()
    return to_user(new)


async def mint(cmd: c.Mint, uow: UnitOfWork, p: Principal, deps: Deps) -> c.Session:
    """Portal switch: the account service has checked portal ownership and the link;
    the session is for the linked account, as its administrator. Identity checks again,
    on its own records, that the caller still exists, is enabled and still holds the
    portal permission; a session opened through a portal cannot switch again."""
    if p.portal_id is not None:
        raise Forbidden(
            "A session opened through a portal cannot switch again; "
            "switch with your own account's session.",
            {"reason": "switched_session"},
        )
    if not p.operator and p.user_id != cmd.user_id:
        raise Forbidden("A session is minted only for the caller.")
    version: int | None = None
    if not p.operator:
        assert p.account_id is not None
        async with uow:
            owner = await uow.users.get(p.account_id, p.user_id)
            perms = await _role_permissions(uow, owner) if owner else frozenset()
        if (
            owner is None
            or owner["status"] != "Enabled"
            or owner["must_change_password"]
            or Perm.PORTALS_MANAGE not in perms
        ):
            raise Forbidden(
                "You may no longer administer portals.", {"permission": Perm.PORTALS_MANAGE}
            )
        version = owner["version"]
    row = {
        "id": cmd.user_id,
        "account_id": cmd.account_id,
        "email": p.email,
        "must_change_password": False,
        "needs_emergency_location": False,
        "version": version,
    }
    return _session_for(row, domain.SUPER_ADMIN.permissions, deps.signer, cmd.portal_id)
