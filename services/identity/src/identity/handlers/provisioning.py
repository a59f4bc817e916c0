"""Provisioning users: every entry validated once (all problems at once), inventory
reserved with the account service, then extensions and users created in the
caller's transaction. All or nothing.

A request of its own (``users.add``, ``extensions.assign_user``) reserves its
inventory between two transactions (:func:`provision_request`): no account lock is
held while the account service answers; the second transaction checks everything
again under the lock, and gives the inventory back if anything changed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from shared.auth import Perm
from shared.contracts import identity as c
from shared.errors import (
    AppError,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    ValidationFailed,
    field_error,
)
from shared.ids import new_id

from identity import domain
from identity.handlers.common import Actor, Deps, _account, _now
from identity.handlers.entries import (
    _account_checks,
    _Entry,
    _hash_credentials,
    _inventory_items,
    _parse,
    _pure_checks,
    _raise_if_errors,
)
from identity.handlers.rows import build_rows, emit_added
from identity.ports import Hasher, UnitOfWork


@dataclass
class Provisioned:
    rows: list[dict[str, Any]]
    allocation_id: str | None


@dataclass
class Reserved:
    """Inventory reserved before the writing transaction: the allocation (None when
    nothing was to be reserved), and what it allocated by entry (``ref``)."""

    allocation_id: str | None = None
    allocations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def reserving(
    deps: Deps, actor: Actor, account_id: str, items: list[dict[str, Any]]
) -> AsyncIterator[Reserved]:
    """``items`` reserved with the account service; enter it with no database lock held
    (between two transactions). Given back exactly once if the block fails, and also
    if the account service refuses or does not answer (a late allocation is then
    refused). Nothing to reserve: no allocation, no call."""
    reserved = Reserved(new_id("alloc") if items else None)
    try:
        if items:
            _, reserved.allocations = await _reserve(
                deps, actor, account_id, items, reserved.allocation_id
            )
        yield reserved
    except BaseException:
        if reserved.allocation_id:
            await _release_quietly(deps, reserved.allocation_id)
        raise


async def provision_request(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    account_id: str,
    raws: list[dict[str, Any]],
    *,
    prefix: str = "users",
    extension_id: str | None = None,
) -> Provisioned:
    """A request's users provisioned and committed in ``uow``: inventory, if the entries
    need any, reserved first, outside any lock (a first transaction checks everything,
    ends, and only then is the account service asked). Given back on any failure."""
    entries = parse_entries(raws, prefix, deps.hasher)
    try:
        items: list[dict[str, Any]] = []
        if _inventory_items([e for e in entries if e.entry is not None]):
            async with uow:  # checked, nothing written; the locks end with it
                _, _, items = await _checked(uow, actor, account_id, entries, extension_id)
        async with reserving(deps, actor, account_id, items) as reserved, uow:
            done = await provision(
                uow,
                deps,
                actor,
                account_id,
                entries,
                extension_id=extension_id,
                reserved=reserved,
            )
            await uow.commit()
    except BaseException:
        _cancel_hashing(entries)
        raise
    return done


def parse_entries(raws: list[dict[str, Any]], prefix: str, hasher: Hasher) -> list[_Entry]:
    """Every entry parsed and checked on its own (once); their secrets hashing
    meanwhile, when no entry has a problem."""
    entries = _parse_all(raws, prefix)
    now = _now()
    for e in entries:
        if e.entry is not None:
            _pure_checks(e, now)
    if not any(e.errors for e in entries):
        # Hash while the database checks run: argon2 in threads, off the event loop.
        _start_hashing(entries, hasher)
    return entries


async def provision(
    uow: UnitOfWork,
    deps: Deps,
    actor: Actor,
    account_id: str,
    entries: list[_Entry],
    *,
    extension_id: str | None = None,
    allocation_id: str | None = None,
    extra_event_data: dict[str, Any] | None = None,
    reserved: Reserved | None = None,
) -> Provisioned:
    """Check every entry against the account (all problems, with entry index and
    field), then create the extensions and users in the caller's open transaction.
    All or nothing. Inventory ``reserved`` already is the caller's to give back; any
    reserved here is given back here on failure."""
    try:
        acc, ext, items = await _checked(uow, actor, account_id, entries, extension_id)
        hashes = await _hashes(entries)
    finally:
        _cancel_hashing(entries)
    if reserved is None:
        allocation_id, allocations = await _reserve(deps, actor, account_id, items, allocation_id)
        release = allocation_id
    else:
        allocation_id, allocations, release = reserved.allocation_id, reserved.allocations, None
    try:
        rows = build_rows(acc, entries, hashes, allocations)
        await _insert(uow, account_id, rows, ext)
        emit_added(uow, account_id, entries, rows, ext, extra_event_data or {})
    except BaseException:
        if release:
            await _release_quietly(deps, release)
        raise
    return Provisioned(rows, allocation_id)


async def _checked(
    uow: UnitOfWork, actor: Actor, account_id: str, entries: list[_Entry], extension_id: str | None
) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
    """Every rule that needs the database, under the account's lock; numbers given."""
    acc, ext, items, free = await _validate(uow, actor, account_id, entries, extension_id)
    _number(entries, ext, free)
    _pin_is_not_the_number(entries)
    _raise_if_errors(entries)
    return acc, ext, items


def _cancel_hashing(entries: list[_Entry]) -> None:
    for e in entries:
        if e.hashes is not None and not e.hashes.done():
            e.hashes.cancel()


def _parse_all(raws: list[dict[str, Any]], prefix: str) -> list[_Entry]:
    """The entries, at most 25 of them (DOMAIN.md 3: users are added 1 to 25 at a time)."""
    if len(raws) > domain.MAX_USERS_PER_ADD:
        raise LimitExceeded(
            f"At most {domain.MAX_USERS_PER_ADD} users per request.",
            {"field": prefix, "max": domain.MAX_USERS_PER_ADD, "given": len(raws)},
        )
    bulk = prefix == "users"
    return [
        _parse(raw, (prefix, i) if bulk else (prefix,), i if bulk else None)
        for i, raw in enumerate(raws)
    ]


def _start_hashing(entries: list[_Entry], hasher: Hasher) -> None:
    for e in entries:
        if e.entry is not None and isinstance(e.entry.setup, c.AssignCredentials):
            e.hashes = asyncio.ensure_future(_hash_credentials(hasher, e.entry.setup))


async def _validate(
    uow: UnitOfWork,
    actor: Actor,
    account_id: str,
    entries: list[_Entry],
    extension_id: str | None,
) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]], list[str]]:
    """The account (locked: one provisioning at a time per account), every entry checked
    against it, the extension to fill if one is named; what to reserve; the lowest free
    extension numbers for the entries that give none (no extension named)."""
    acc = await _account(uow, account_id, lock=True)
    if acc["status"] != "Active":
        raise Conflict("The account is not active.", {"status": acc["status"]})
    free = await _account_checks(uow, acc, entries, actor, numbering=extension_id is None)
    ext = None
    if extension_id is not None:
        ext = await _unassigned_extension(uow, account_id, extension_id, entries[0])
    items = _inventory_items([e for e in entries if e.entry is not None])
    _raise_if_errors(entries)
    check_purchase(items, actor)
    return acc, ext, items, free


async def _unassigned_extension(
    uow: UnitOfWork, account_id: str, extension_id: str, first: _Entry
) -> dict[str, Any]:
    ext = await uow.extensions.get(account_id, extension_id, lock=True)
    if ext is None:
        raise NotFound("No such extension.", {"extension_id": extension_id})
    if ext["status"] != "Unassigned":
        raise Conflict("The extension already has a user.", {"extension_id": extension_id})
    u0 = first.entry
    if u0 is not None and u0.extension_number not in (None, ext["number"]):
        first.error("extension_number", "differs from the extension's number")
    return ext


def check_purchase(items: list[dict[str, Any]], actor: Actor) -> None:
    """Buying needs the caller's acknowledgement of the charges and the purchase
    permission."""
    if not any(i.get("purchase") for i in items):
        return
    if not actor.acknowledge_charges:
        err = field_error("acknowledge_charges", "must be true to buy phones, numbers or licenses")
        raise ValidationFailed("Buying needs an acknowledgement of the charges.", [err])
    if not actor.purchase_allowed:
        raise Forbidden(
            f"Missing permission '{Perm.INVENTORY_PURCHASE}'.",
            {"permission": Perm.INVENTORY_PURCHASE},
        )


def _number(entries: list[_Entry], ext: dict[str, Any] | None, free: list[str]) -> None:
    """Extension numbers: the given ones, then the lowest ``free`` ones (found with the
    account's other references, ``_account_checks``)."""
    if ext is not None:
        entries[0].number = ext["number"]
        return
    need = [e for e in entries if e.entry and not e.entry.extension_number]
    if len(free) < len(need):
        raise LimitExceeded("The account has no free extension numbers left.")
    for e, number in zip(need, free, strict=False):
        e.number = number
    for e in entries:
        if e.entry and e.entry.extension_number:
            e.number = e.entry.extension_number


def _pin_is_not_the_number(entries: list[_Entry]) -> None:
    """A PIN is never the user's extension number, also one given to it just now."""
    for e in entries:
        u = e.entry
        if (
            u
            and isinstance(u.setup, c.AssignCredentials)
            and u.setup.pin is not None
            and e.number == u.setup.pin
        ):
            e.error("setup.pin", "must not be the user's extension number")


async def _hashes(entries: list[_Entry]) -> dict[int, list[str | None]]:
    """[password, pin, answer] hashes per entry; an imported ``password_hash`` is kept."""
    hashes: dict[int, list[str | None]] = {}
    for e in entries:
        if e.hashes is not None:
            got = await e.hashes
            st = e.entry.setup if e.entry is not None else None
            if isinstance(st, c.AssignCredentials) and st.password_hash is not None:
                got[0] = st.password_hash
            hashes[id(e)] = got
    return hashes


async def _reserve(
    deps: Deps,
    actor: Actor,
    account_id: str,
    items: list[dict[str, Any]],
    allocation_id: str | None,
) -> tuple[str | None, dict[str, list[dict[str, Any]]]]:
    """Inventory reserved with the account service (nothing to reserve: no allocation);
    what it allocated, by entry."""
    if not items:
        return None, {}
    allocation_id = allocation_id or new_id("alloc")
    reply = await allocate(deps, allocation_id, account_id, actor, items)
    allocations: dict[str, list[dict[str, Any]]] = {}
    for a in reply.get("allocations", []):
        allocations.setdefault(str(a.get("ref")), []).append(a)
    return allocation_id, allocations


async def _insert(
    uow: UnitOfWork, account_id: str, rows: list[dict[str, Any]], ext: dict[str, Any] | None
) -> None:
    """The users, with their new extensions (one statement), or the one user on ``ext``."""
    if ext is not None:
        rows[0]["extension_id"] = ext["id"]
        await uow.extensions.update(ext["id"], status=rows[0]["status"], user_id=rows[0]["id"])
        await uow.users.insert_many(rows)
        return
    new = [
        {
            "id": r["extension_id"],
            "account_id": account_id,
            "number": r["extension_number"],
            "status": r["status"],
            "user_id": r["id"],
        }
        for r in rows
    ]
    await uow.users.insert_many(rows, new)


NO_LICENSE_HINT = (
    ' Buy it with the user: give the entry "license": "purchase" and the request'
    " acknowledge_charges: true (needs the inventory purchase permission), or buy"
    " licenses first with account.v1.inventory.purchase."
)


async def allocate(
    deps: Deps, allocation_id: str, account_id: str, actor: Actor, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Reserve ``items`` with the account service; running out of licenses says how to
    buy one."""
    try:
        return await deps.inventory.allocate(
            request_id=allocation_id,
            account_id=account_id,
            acknowledge_charges=actor.acknowledge_charges,
            purchase_allowed=actor.purchase_allowed,
            items=items,
        )
    except LimitExceeded as err:
        if err.details.get("kind") != "license":
            raise
        raise LimitExceeded(err.message.rstrip() + NO_LICENSE_HINT, err.details) from err


async def _release_quietly(deps: Deps, allocation_id: str) -> None:
    with contextlib.suppress(AppError, asyncio.CancelledError):
        await asyncio.shield(deps.inventory.release(allocation_id))
