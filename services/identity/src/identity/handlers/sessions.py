"""Sessions: sign in, change own password, sign out, and a portal switch's session."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.contracts.common import Ok
from shared.errors import (
    Conflict,
    Forbidden,
    LimitExceeded,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from shared.revocations import revoke_session, revoke_user

from identity import domain
from identity.handlers.common import LOGIN_FAILED, SOURCE, Deps, _iso, _now, _role_permissions
from identity.handlers.views import _user_event
from identity.ports import (
    Signer,
    UnitOfWork,
)
from shared import subjects as s

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


def _operator_session(op: dict[str, Any], signer: Signer) -> c.Session:
    token, exp = signer.mint(
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
            return _operator_session(op, deps.signer)
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
    matched = await _in_active_accounts(uow, matched)
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


async def _in_active_accounts(
    uow: UnitOfWork, matched: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Users of Suspended and Closed accounts cannot sign in (DOMAIN.md section 6); said
    only to whoever gave the right password."""
    statuses: dict[str, str] = {}
    async with uow:
        for r in matched:
            acc = await uow.accounts.get(r["account_id"])
            statuses[r["account_id"]] = acc["status"] if acc else "Active"
    active = [r for r in matched if statuses[r["account_id"]] == "Active"]
    if not active:
        status = statuses[matched[0]["account_id"]]
        raise Forbidden(
            f"The account is {status}: its users cannot sign in.",
            {"reason": f"account_{status.lower()}", "account_status": status},
        )
    return active


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
