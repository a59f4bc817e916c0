"""Use cases of the identity service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm
from shared.contracts import identity as c
from shared.contracts.account import AccountFacts
from shared.errors import Unauthenticated
from shared.ids import new_id

from identity.ports import Hasher, Signer, UnitOfWork

LOGIN_FAILED = "The email or password is not correct."


async def bootstrap_operator(uow: UnitOfWork, hasher: Hasher, email: str, password: str) -> None:
    """The platform operator from configuration (created or its password reset)."""
    hashed = await hasher.hash(password)
    async with uow:
        await uow.operators.upsert(new_id("op"), email, hashed)
        await uow.commit()


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def login(cmd: c.Login, uow: UnitOfWork, hasher: Hasher, signer: Signer) -> c.Session:
    """Generic failure for a wrong password and an unknown email alike, in the same time."""
    async with uow:
        op = await uow.operators.by_email(cmd.email)
    ok = await hasher.verify(op["password_hash"] if op else None, cmd.password)
    if not ok or op is None:
        raise Unauthenticated(LOGIN_FAILED)
    token, exp = signer.mint(
        user_id=op["id"], account_id=None, permissions=Perm.ALL, operator=True, email=op["email"]
    )
    return c.Session(
        token=token, expires_at=_iso(exp), account_id=None, user_id=op["id"], operator=True
    )


async def project_account(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep the account facts identity needs (plan, multi-site, extension length,
    require_unique_email) from the account service's events."""
    facts = AccountFacts.model_validate(data)
    await uow.accounts.upsert_facts(facts.model_dump())
