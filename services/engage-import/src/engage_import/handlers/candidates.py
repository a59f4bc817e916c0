"""Step 1 of an import: the phone-system users that can be imported."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import engage as c

from engage_import.handlers.access import engage_account
from engage_import.ports import UnitOfWork


async def list_candidates(cmd: c.ListCandidates, uow: UnitOfWork, p: Principal) -> c.CandidatePage:
    async with uow:
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.directory.candidates(
            account_id=link.account_id,
            engage_account_id=link.id,
            query=cmd.query.strip() if cmd.query else None,
            imported=cmd.imported,
            after=cmd.cursor,
            limit=cmd.limit + 1,
        )
    items = [c.Candidate.model_validate(r) for r in rows[: cmd.limit]]
    nxt = items[-1].user_id if len(rows) > cmd.limit else None
    return c.CandidatePage(items=items, next_cursor=nxt)
