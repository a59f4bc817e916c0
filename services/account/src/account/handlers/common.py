"""What the use cases share: loading an account, charges, new inventory rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.auth import Perm
from shared.contracts import account as c
from shared.errors import (
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from shared.ids import new_id

from account import domain
from account.ports import UnitOfWork

SOURCE = "account"
UowFactory = Callable[[], UnitOfWork]


async def load_account(
    uow: UnitOfWork, account_id: str, *, for_update: bool = False
) -> domain.Account:
    acc = await uow.accounts.get(account_id, for_update=for_update)
    if acc is None:
        raise NotFound("No such account.", {"account_id": account_id})
    return acc


def to_charge(row: dict[str, Any]) -> c.Charge:
    return c.Charge(
        id=row["id"],
        account_id=row["account_id"],
        purchase_id=row.get("purchase_id"),
        kind=row["kind"],
        item=row["item"],
        quantity=row["quantity"],
        unit_price=domain.money(row["unit_price_minor"]),
        amount=domain.money(row["unit_price_minor"] * row["quantity"]),
        currency=row["currency"],
        user_id=row.get("user_id"),
        cycle=row.get("cycle"),
        created_at=row.get("created_at"),
    )


def charge_row(
    acc: domain.Account, kind: str, item: str, quantity: int, purchase_id: str | None
) -> dict[str, Any]:
    unit, currency = domain.price(acc.country, item)
    return {
        "id": new_id("chg"),
        "account_id": acc.id,
        "purchase_id": purchase_id,
        "kind": kind,
        "item": item,
        "quantity": quantity,
        "unit_price_minor": unit,
        "currency": currency,
    }


async def issue_numbers(
    uow: UnitOfWork,
    acc: domain.Account,
    count: int,
    area_code: str | None,
    allocation_id: str | None,
) -> list[str]:
    """Issue ``count`` fresh numbers for the account; the primary key keeps them unique."""
    got: list[str] = []
    for _ in range(5):
        candidates = domain.number_candidates(acc.country, count - len(got), area_code)
        rows = [
            {
                "number": n,
                "account_id": acc.id,
                "status": "allocated" if allocation_id else "free",
                "allocation_id": allocation_id,
            }
            for n in candidates
        ]
        got += await uow.inventory.insert_numbers(rows)
        if len(got) >= count:
            return got
    raise Conflict("Could not issue enough unique numbers; try again.", {"area_code": area_code})


def device_rows(
    acc: domain.Account, model: str, count: int, allocation_id: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "id": new_id("dev"),
            "account_id": acc.id,
            "model": model,
            "status": "allocated" if allocation_id else "free",
            "allocation_id": allocation_id,
        }
        for _ in range(count)
    ]


def check_purchase(principal_may_buy: bool, acknowledged: bool) -> None:
    if not principal_may_buy:
        raise Forbidden(
            f"Buying needs the '{Perm.INVENTORY_PURCHASE}' permission.",
            {"permission": Perm.INVENTORY_PURCHASE},
        )
    if not acknowledged:
        raise ValidationFailed.single(
            "acknowledge_charges",
            "Buying inventory records charges: set acknowledge_charges to true.",
        )


def check_license_type(acc: domain.Account, user_type: str, field: str, index: int | None) -> None:
    if user_type not in domain.LICENSED_USER_TYPES:
        raise ValidationFailed.single(field, f"'{user_type}' users take no license.", index=index)
    if not acc.allows(user_type):
        raise ValidationFailed.single(
            field, f"The {acc.plan} plan does not allow '{user_type}' users.", index=index
        )


def exhausted(ref: Any, kind: str, message: str, **extra: Any) -> LimitExceeded:
    return LimitExceeded(message, {"ref": ref, "kind": kind, **extra})
