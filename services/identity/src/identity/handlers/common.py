"""Shared pieces of the use cases: dependencies, the acting principal, the account
lookup, roles by reference and least privilege on a target user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm, Principal
from shared.errors import (
    Conflict,
    Forbidden,
    NotFound,
)

from identity import domain
from identity.ports import (
    Hasher,
    Inventory,
    Invitations,
    Signer,
    UnitOfWork,
)

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


async def _role_permissions(uow: UnitOfWork, row: dict[str, Any]) -> frozenset[str]:
    role = domain.predefined_role(row["role_id"])
    if role is None:
        custom = [_custom_role(r) for r in await uow.roles.for_account(row["account_id"])]
        role = next((r for r in custom if r.id == row["role_id"]), None)
    return (role.permissions if role else frozenset()) | {Perm.SELF}
