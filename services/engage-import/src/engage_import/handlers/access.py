"""What every use case shares: the event source, the clock, and who may reach an
Engage account."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.auth import Perm, Principal
from shared.errors import NotFound

from engage_import.domain.model import EngageLink
from engage_import.ports import UnitOfWork

SOURCE = "engage-import"
IDENTITY_PROVIDER = "ringex"
REJECTED_UNKNOWN = "not_found: no such user in the linked phone-system account"


def _now() -> datetime:
    return datetime.now(UTC)


def may_read(p: Principal, account_id: str) -> bool:
    """Reading is allowed with ``engage.read`` or ``engage.manage`` on the account."""
    if not p.can_access(account_id):
        return False
    return p.operator or bool({Perm.ENGAGE_READ, Perm.ENGAGE_MANAGE} & p.permissions)


async def engage_account(
    uow: UnitOfWork, engage_account_id: str, p: Principal, perm: str, *, for_update: bool = False
) -> EngageLink:
    """The Engage account, once the caller may ``perm`` on its phone-system account.

    Reading is allowed with ``engage.read`` or ``engage.manage``."""
    row = await uow.links.get(engage_account_id, for_update=for_update)
    if row is None or not p.can_access(row["account_id"]):
        # another account's Engage account is answered exactly like a missing one:
        # the reply reveals nothing about it (not even that it exists)
        raise NotFound("No such Engage account.", {"engage_account_id": engage_account_id})
    if perm == Perm.ENGAGE_READ and Perm.ENGAGE_MANAGE in p.permissions:
        perm = Perm.ENGAGE_MANAGE
    p.require(perm, row["account_id"])
    return EngageLink.from_row(row)
