"""Links: an Engage Digital account linked to a phone-system (RingEX) account."""

from __future__ import annotations

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.errors import Conflict, Forbidden, NotFound
from shared.ids import new_id
from shared.messaging.outbox import make_event

from engage_import import domain
from engage_import.domain.model import EngageLink
from engage_import.handlers.access import SOURCE, may_read
from engage_import.ports import UnitOfWork
from shared import subjects as s


def to_link(link: EngageLink) -> c.Link:
    return c.Link(
        engage_account_id=link.id,
        name=link.name,
        account_id=link.account_id,
        default_time_zone=link.default_time_zone,
        default_language=link.default_language,
        created_at=link.created_at,
    )


def _readable_account(cmd: c.ListLinks, p: Principal) -> str | None:
    """The one account whose links the caller lists (None: an operator's, all);
    naming an account the caller may not read is ``forbidden``."""
    account_id = cmd.account_id or p.account_id
    if account_id is None:
        if p.operator:
            return None
        raise Forbidden("This session belongs to no account; name one.")
    if not may_read(p, account_id):
        p.require_account(account_id)
        raise Forbidden(
            f"Missing permission '{Perm.ENGAGE_READ}'.", {"permission": Perm.ENGAGE_READ}
        )
    return account_id


async def list_links(cmd: c.ListLinks, uow: UnitOfWork, p: Principal) -> c.LinkPage:
    """The Engage accounts linked to the caller's phone-system account (``engage.read``
    or ``engage.manage``); nothing of any other account's."""
    account_id = _readable_account(cmd, p)
    async with uow:
        rows = await uow.links.list(account_id, after=cmd.cursor, limit=cmd.limit + 1)
    items = [to_link(EngageLink.from_row(r)) for r in rows[: cmd.limit]]
    nxt = items[-1].engage_account_id if len(rows) > cmd.limit else None
    return c.LinkPage(items=items, next_cursor=nxt)


async def create_link(cmd: c.CreateLink, uow: UnitOfWork, p: Principal) -> c.Link:
    """Link a new Engage Digital account to a phone-system account the caller administers."""
    p.require(Perm.ENGAGE_MANAGE, cmd.account_id)
    async with uow:
        facts = await uow.accounts.get(cmd.account_id)
        if facts is None:
            raise NotFound(
                "No such phone-system account (or it is not known here yet).",
                {"account_id": cmd.account_id},
            )
        if facts["status"] == "Closed":
            raise Conflict("A closed account cannot be linked.", {"account_id": cmd.account_id})
        tz, lang = domain.engage_defaults(
            cmd.engage_account.default_time_zone or facts.get("default_time_zone"),
            cmd.engage_account.default_language or facts.get("default_language"),
        )
        row = await uow.links.add(
            {
                "id": new_id("eng"),
                "name": cmd.engage_account.name,
                "account_id": cmd.account_id,
                "default_time_zone": tz,
                "default_language": lang,
                "created_by": p.user_id[:64],
            }
        )
        if row is None:
            raise Conflict(
                "An Engage account of that name is already linked to this account.",
                {"field": "engage_account.name"},
            )
        await uow.catalog.add_roles(
            [
                {
                    "engage_account_id": row["id"],
                    "id": rid,
                    "name": name,
                    "permissions": list(perms),
                    "predefined": True,
                }
                for rid, name, perms in domain.PREDEFINED_ROLES
            ]
        )
        link = to_link(EngageLink.from_row(row))
        uow.add_event(
            make_event(SOURCE, s.ENGAGE_LINK_CREATED, link.model_dump(mode="json"), key=row["id"])
        )
        await uow.commit()
    return link
