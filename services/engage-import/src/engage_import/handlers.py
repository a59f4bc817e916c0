"""Use cases of the engage-import service: ``async def (cmd, uow, principal) -> reply``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.contracts.account import AccountFacts
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from shared.ids import new_id
from shared.messaging.outbox import make_event

from engage_import import domain
from engage_import.ports import NamedKind, Row, UnitOfWork
from shared import subjects as s

SOURCE = "engage-import"
IDENTITY_PROVIDER = "ringex"
REJECTED_UNKNOWN = "not_found: no such user in the linked phone-system account"


def _now() -> datetime:
    return datetime.now(UTC)


# --- projections (consumers) -------------------------------------------------------
async def project_account(data: dict[str, Any], uow: UnitOfWork) -> None:
    """Keep what engage-import needs of a phone-system account (its defaults)."""
    facts = AccountFacts.model_validate(data)
    await uow.accounts.upsert(facts.model_dump())


def directory_row(subject: str, data: dict[str, Any]) -> Row:
    """A directory row from an identity user event; ``ValueError`` when it cannot be one."""
    user_id, account_id, version = data.get("user_id"), data.get("account_id"), data.get("version")
    if (
        not isinstance(user_id, str)
        or not user_id
        or not isinstance(account_id, str)
        or not account_id
    ):
        raise ValueError("user event without user_id/account_id")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError("user event without an integer version")
    row: Row = {"user_id": user_id, "account_id": account_id, "version": version}
    if subject == s.USER_REMOVED:
        return row | {"removed": True}
    regional = data.get("regional") or {}
    if not isinstance(regional, dict):
        regional = {}

    def text(key: str, limit: int) -> str:
        value = data.get(key)
        return str(value)[:limit] if value is not None else ""

    def opt(value: Any, limit: int) -> str | None:
        return str(value)[:limit] if value else None

    return row | {
        "removed": False,
        "first_name": text("first_name", 120),
        "last_name": text("last_name", 120),
        "email": text("email", 320),
        "status": opt(data.get("status"), 20),
        "time_zone": opt(regional.get("time_zone"), 64),
        "language": opt(regional.get("language"), 35),
    }


async def project_users(events: list[tuple[str, dict[str, Any]]], uow: UnitOfWork) -> None:
    """The directory projection keeps the highest version of every user; a batch of
    identity's user events is applied in one go."""
    latest: dict[str, Row] = {}
    for subject, data in events:
        row = directory_row(subject, data)
        known = latest.get(row["user_id"])
        if known is None or row["version"] >= known["version"]:
            latest[row["user_id"]] = row
    await uow.directory.upsert_many(list(latest.values()))


# --- access ---------------------------------------------------------------------------
async def _engage_account(uow: UnitOfWork, engage_account_id: str, p: Principal, perm: str) -> Row:
    """The Engage account, once the caller may ``perm`` on its phone-system account.

    Reading is allowed with ``engage.read`` or ``engage.manage``."""
    link = await uow.links.get(engage_account_id)
    if link is None or not p.can_access(link["account_id"]):
        # another account's Engage account is answered exactly like a missing one:
        # the reply reveals nothing about it (not even that it exists)
        raise NotFound("No such Engage account.", {"engage_account_id": engage_account_id})
    if perm == Perm.ENGAGE_READ and Perm.ENGAGE_MANAGE in p.permissions:
        perm = Perm.ENGAGE_MANAGE
    p.require(perm, link["account_id"])
    return link


# --- links ----------------------------------------------------------------------------
def to_link(row: Row) -> c.Link:
    return c.Link(
        engage_account_id=row["id"],
        name=row["name"],
        account_id=row["account_id"],
        default_time_zone=row["default_time_zone"],
        default_language=row["default_language"],
        created_at=row.get("created_at"),
    )


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
        link = to_link(row)
        uow.add_event(
            make_event(SOURCE, s.ENGAGE_LINK_CREATED, link.model_dump(mode="json"), key=row["id"])
        )
        await uow.commit()
    return link


# --- candidates (step 1) ----------------------------------------------------------------
async def list_candidates(cmd: c.ListCandidates, uow: UnitOfWork, p: Principal) -> c.CandidatePage:
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.directory.candidates(
            account_id=link["account_id"],
            engage_account_id=link["id"],
            query=cmd.query.strip() if cmd.query else None,
            imported=cmd.imported,
            after=cmd.cursor,
            limit=cmd.limit + 1,
        )
    items = [c.Candidate.model_validate(r) for r in rows[: cmd.limit]]
    nxt = items[-1].user_id if len(rows) > cmd.limit else None
    return c.CandidatePage(items=items, next_cursor=nxt)


# --- import (step 2) --------------------------------------------------------------------
def _counts(job: Row) -> c.ImportCounts:
    return c.ImportCounts(
        total=job["total"],
        processed=job["processed"],
        imported=job["imported"],
        already_imported=job["already_imported"],
        rejected=job["rejected"],
    )


def _result(item: Row) -> c.ImportResult:
    return c.ImportResult(
        user_id=item["user_id"],
        status=item["status"],
        reason=item.get("reason"),
        agent_id=item.get("agent_id"),
        username=item.get("username"),
        time_zone=c.Mapping.model_validate(item["time_zone"]) if item.get("time_zone") else None,
        language=c.Mapping.model_validate(item["language"]) if item.get("language") else None,
    )


def to_job(job: Row, items: list[Row], limit: int) -> c.ImportJob:
    page = items[:limit]
    return c.ImportJob(
        id=job["id"],
        engage_account_id=job["engage_account_id"],
        account_id=job["account_id"],
        status=job["status"],
        role_id=job["role_id"],
        team_ids=list(job["team_ids"]),
        category_ids=list(job["category_ids"]),
        counts=_counts(job),
        results=[_result(i) for i in page],
        results_next_cursor=str(page[-1]["seq"]) if len(items) > limit and page else None,
        created_at=job.get("created_at"),
        started_at=job.get("started_at"),
        finished_at=job.get("finished_at"),
    )


def _job_event(job: Row) -> dict[str, Any]:
    return {
        "import_id": job["id"],
        "engage_account_id": job["engage_account_id"],
        "account_id": job["account_id"],
        "status": job["status"],
        "role_id": job["role_id"],
        "team_ids": list(job["team_ids"]),
        "category_ids": list(job["category_ids"]),
        **_counts(job).model_dump(),
    }


async def import_agents(
    cmd: c.ImportAgents, uow: UnitOfWork, p: Principal, notify: Callable[[], None] | None = None
) -> c.ImportJob:
    """Queue an import job; a worker imports the users in chunks and reports per user."""
    user_ids = domain.dedupe(cmd.user_ids)
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        errors: list[dict[str, Any]] = []
        if await uow.catalog.role(link["id"], cmd.role_id) is None:
            errors.append(field_error("role_id", "No such role in this Engage account."))
        checks: tuple[tuple[NamedKind, list[str], str, str], ...] = (
            ("teams", cmd.team_ids, "team_ids", "team"),
            ("categories", cmd.category_ids, "category_ids", "category"),
        )
        for kind, ids, label, what in checks:
            found = await uow.catalog.existing_named(kind, link["id"], ids)
            errors += [
                field_error(f"{label}[{i}]", f"No such {what} in this Engage account.", index=i)
                for i, x in enumerate(ids)
                if x not in found
            ]
        if errors:
            raise ValidationFailed(
                "The import names roles, teams or categories that do not exist.", errors
            )
        job = await uow.imports.add_job(
            {
                "id": new_id("imp"),
                "engage_account_id": link["id"],
                "account_id": link["account_id"],
                "status": "queued",
                "role_id": cmd.role_id,
                "team_ids": domain.dedupe(cmd.team_ids),
                "category_ids": domain.dedupe(cmd.category_ids),
                "total": len(user_ids),
                "requested_by": p.user_id[:64],
            },
            user_ids,
        )
        items = await uow.imports.items(
            job["id"], after=None, status=None, limit=cmd.results_limit + 1
        )
        await uow.commit()
    if notify is not None:
        notify()
    return to_job(job, items, cmd.results_limit)


async def get_import(cmd: c.GetImport, uow: UnitOfWork, p: Principal) -> c.ImportJob:
    after: int | None = None
    if cmd.results_cursor:
        try:
            after = int(cmd.results_cursor)
        except ValueError as exc:
            raise ValidationFailed.single("results_cursor", "Not a cursor of this import.") from exc
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        job = await uow.imports.get_job(cmd.import_id)
        if job is None or job["engage_account_id"] != link["id"]:
            raise NotFound("No such import.", {"import_id": cmd.import_id})
        items = await uow.imports.items(
            job["id"], after=after, status=cmd.result_status, limit=cmd.results_limit + 1
        )
    return to_job(job, items, cmd.results_limit)


async def work_next_chunk(
    uow: UnitOfWork,
    chunk_size: int,
    *,
    wait_unknown: float = 0.0,
    retry_unknown: float = 1.0,
    directory_behind: Callable[[], Awaitable[bool]] | None = None,
) -> bool:
    """Import the next chunk of the oldest open job nobody else is working on.

    One transaction: the job row (SKIP LOCKED, so replicas share jobs), the Engage
    account row (so usernames are assigned by one worker at a time), the chunk's
    items, one batch insert of agents (ON CONFLICT (engage account, user) DO
    NOTHING: a re-import never duplicates), the results, the counts and the events.
    A worker that dies mid-chunk rolls back and any instance picks the job up again.
    An item whose user engage has not heard of yet (the directory event is still on
    its way) is put back for ``retry_unknown`` seconds, until ``wait_unknown`` seconds
    after the import was created and engage's directory has caught up with identity's
    events (``directory_behind``, asked only once that time is up); only then is it
    rejected ``not_found``.
    Returns False when there was nothing to do."""
    async with uow:
        job = await uow.imports.claim_job()
        if job is None:
            return False
        link = await uow.links.get(job["engage_account_id"], for_update=True)
        if link is None:  # pragma: no cover - links are never deleted
            await uow.imports.update_job(job["id"], {"status": "finished", "finished_at": _now()})
            await uow.commit()
            return True
        values: Row = {}
        if job["status"] == "queued":
            values = {"status": "running", "started_at": _now()}
            job = job | values
            uow.add_event(
                make_event(SOURCE, s.ENGAGE_IMPORT_STARTED, _job_event(job), key=job["id"])
            )
        items = await uow.imports.pending_items(job["id"], chunk_size)
        waiting = (_now() - job["created_at"]).total_seconds() < wait_unknown or (
            directory_behind is not None and await directory_behind()
        )
        results, new_agents = await _import_items(uow, job, link, items, defer_unknown=waiting)
        done = {r["seq"] for r in results}
        deferred = [i["seq"] for i in items if i["seq"] not in done]
        await uow.imports.defer_items(job["id"], deferred, retry_unknown)
        items = [i for i in items if i["seq"] in done]
        imported = sum(1 for r in results if r["status"] == "imported")
        already = sum(1 for r in results if r["status"] == "already_imported")
        rejected = sum(1 for r in results if r["status"] == "rejected")
        await uow.imports.set_results(job["id"], results)
        processed = job["processed"] + len(items)
        values |= {
            "processed": processed,
            "imported": job["imported"] + imported,
            "already_imported": job["already_imported"] + already,
            "rejected": job["rejected"] + rejected,
        }
        if processed >= job["total"] or not (items or deferred):
            values |= {"status": "finished", "finished_at": _now()}
        job = await uow.imports.update_job(job["id"], values)
        for agent in new_agents:
            uow.add_event(make_event(SOURCE, s.ENGAGE_AGENT_IMPORTED, agent, key=agent["agent_id"]))
        if items:
            uow.add_event(
                make_event(SOURCE, s.ENGAGE_IMPORT_PROGRESSED, _job_event(job), key=job["id"])
            )
        if job["status"] == "finished":
            uow.add_event(
                make_event(
                    SOURCE,
                    s.ENGAGE_IMPORT_FINISHED,
                    _job_event(job) | {"finished_at": job["finished_at"].isoformat()},
                    key=job["id"],
                )
            )
        await uow.commit()
    return True


async def _import_items(
    uow: UnitOfWork, job: Row, link: Row, items: list[Row], *, defer_unknown: bool = False
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Per-item results and the ``agent.imported`` payloads of one chunk; with
    ``defer_unknown``, an item of an unknown user gets no result (it waits)."""
    if not items:
        return [], []
    engage_id = link["id"]
    users = await uow.directory.in_account(job["account_id"], [i["user_id"] for i in items])
    if defer_unknown:
        # a user of another account, or removed, is rejected now; only one engage has
        # not heard of at all may still be on its way
        missing = [i["user_id"] for i in items if i["user_id"] not in users]
        defer_unknown_ids = set(missing) - await uow.directory.known(missing)
    else:
        defer_unknown_ids = set()
    existing = await uow.agents.by_users(engage_id, list(users))
    fresh = [i for i in items if i["user_id"] in users and i["user_id"] not in existing]
    bases = [domain.username_base(users[i["user_id"]]["email"]) for i in fresh]
    taken = await uow.agents.taken_usernames(engage_id, bases)
    names = domain.assign_usernames(bases, taken)
    rows: list[Row] = []
    for item, base, username in zip(fresh, bases, names, strict=True):
        u = users[item["user_id"]]
        tz = domain.map_time_zone(u.get("time_zone"), link["default_time_zone"])
        lang = domain.map_language(u.get("language"), link["default_language"])
        rows.append(
            {
                "id": new_id("agt"),
                "engage_account_id": engage_id,
                "user_id": u["user_id"],
                "account_id": job["account_id"],
                "first_name": u["first_name"],
                "last_name": u["last_name"],
                "email": u["email"],
                "username": username,
                "username_base": base,
                "role_id": job["role_id"],
                "team_ids": list(job["team_ids"]),
                "category_ids": list(job["category_ids"]),
                "time_zone": tz.value,
                "language": lang.value,
                "time_zone_mapping": tz.as_dict(),
                "language_mapping": lang.as_dict(),
                "import_id": job["id"],
            }
        )
    inserted = await uow.agents.insert_many(rows)
    lost = [r["user_id"] for r in rows if r["user_id"] not in inserted]
    if lost:  # only if an agent appeared since the check above: report the one that exists
        existing |= await uow.agents.by_users(engage_id, lost)
    by_user = {r["user_id"]: r for r in rows if r["user_id"] in inserted}
    results: list[Row] = []
    for item in items:
        uid = item["user_id"]
        res: Row = {"seq": item["seq"], "user_id": uid}
        if uid in by_user:
            r = by_user[uid]
            res |= {
                "status": "imported",
                "agent_id": r["id"],
                "username": r["username"],
                "time_zone": r["time_zone_mapping"],
                "language": r["language_mapping"],
            }
        elif uid in existing:
            res |= {
                "status": "already_imported",
                "agent_id": existing[uid]["id"],
                "username": existing[uid]["username"],
            }
        elif uid in defer_unknown_ids:
            continue
        else:
            res |= {"status": "rejected", "reason": REJECTED_UNKNOWN}
        results.append(res)
    events = [
        {
            "agent_id": r["id"],
            "engage_account_id": engage_id,
            "account_id": r["account_id"],
            "user_id": r["user_id"],
            "import_id": job["id"],
            "first_name": r["first_name"],
            "last_name": r["last_name"],
            "email": r["email"],
            "username": r["username"],
            "role_id": r["role_id"],
            "team_ids": r["team_ids"],
            "category_ids": r["category_ids"],
            "time_zone": r["time_zone_mapping"],
            "language": r["language_mapping"],
        }
        for r in rows
        if r["user_id"] in inserted
    ]
    return results, events


# --- agents ---------------------------------------------------------------------------
def to_agent(row: Row) -> c.Agent:
    return c.Agent(
        id=row["id"],
        engage_account_id=row["engage_account_id"],
        user_id=row["user_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        username=row["username"],
        role_id=row["role_id"],
        role=row.get("role") or row["role_id"],
        team_ids=list(row["team_ids"]),
        category_ids=list(row["category_ids"]),
        time_zone=row["time_zone"],
        language=row["language"],
        time_zone_mapping=c.Mapping.model_validate(row["time_zone_mapping"]),
        language_mapping=c.Mapping.model_validate(row["language_mapping"]),
        identity=c.IdentityLink(
            provider=IDENTITY_PROVIDER, account_id=row["account_id"], user_id=row["user_id"]
        ),
        import_id=row.get("import_id"),
        created_at=row.get("created_at"),
    )


async def list_agents(cmd: c.ListAgents, uow: UnitOfWork, p: Principal) -> c.AgentPage:
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.agents.list(
            link["id"],
            query=cmd.query.strip() if cmd.query else None,
            role_id=cmd.role_id,
            team_id=cmd.team_id,
            after=cmd.cursor,
            limit=cmd.limit + 1,
        )
    items = [to_agent(r) for r in rows[: cmd.limit]]
    return c.AgentPage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def get_agent(cmd: c.GetAgent, uow: UnitOfWork, p: Principal) -> c.Agent:
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        row = await uow.agents.get(link["id"], agent_id=cmd.agent_id, user_id=cmd.user_id)
    if row is None:
        raise NotFound("No such agent.", {"agent_id": cmd.agent_id, "user_id": cmd.user_id})
    return to_agent(row)


# --- roles, teams, categories -------------------------------------------------------------
def to_role(row: Row) -> c.Role:
    return c.Role(
        id=row["id"],
        engage_account_id=row["engage_account_id"],
        name=row["name"],
        permissions=list(row["permissions"]),
        predefined=row["predefined"],
    )


async def list_roles(cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal) -> c.RolePage:
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.catalog.roles(link["id"], after=cmd.cursor, limit=cmd.limit + 1)
    items = [to_role(r) for r in rows[: cmd.limit]]
    return c.RolePage(items=items, next_cursor=items[-1].id if len(rows) > cmd.limit else None)


async def create_role(cmd: c.CreateRole, uow: UnitOfWork, p: Principal) -> c.Role:
    """A custom role: a name not used by another role of the Engage account and a
    non-empty set of the product's permissions."""
    bad = domain.unknown_permissions(cmd.permissions)
    if bad:
        raise ValidationFailed(
            "Unknown permissions.",
            [
                field_error(
                    f"permissions[{i}]",
                    f"'{cmd.permissions[i]}' is not a contact-centre permission.",
                    index=i,
                    allowed=list(domain.ENGAGE_PERMISSIONS),
                )
                for i in bad
            ],
        )
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.catalog.add_role(
            {
                "engage_account_id": link["id"],
                "id": new_id("erl"),
                "name": cmd.name,
                "permissions": domain.dedupe(cmd.permissions),
                "predefined": False,
            }
        )
        if row is None:
            raise Conflict("A role of that name already exists.", {"field": "name"})
        role = to_role(row)
        uow.add_event(make_event(SOURCE, s.ENGAGE_ROLE_CREATED, role.model_dump(), key=row["id"]))
        await uow.commit()
    return role


async def list_named(
    kind: NamedKind, cmd: c.ListInEngageAccount, uow: UnitOfWork, p: Principal
) -> tuple[list[Row], str | None]:
    """A page of teams or categories: (items, next cursor)."""
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        rows = await uow.catalog.list_named(kind, link["id"], after=cmd.cursor, limit=cmd.limit + 1)
    items = [_named(r) for r in rows[: cmd.limit]]
    return items, (items[-1]["id"] if len(rows) > cmd.limit else None)


def _named(row: Row) -> Row:
    return {"id": row["id"], "engage_account_id": row["engage_account_id"], "name": row["name"]}


async def create_named(kind: NamedKind, cmd: c.CreateNamed, uow: UnitOfWork, p: Principal) -> Row:
    """A team or a category: names are unique (case-insensitively) in the Engage account."""
    prefix, subject = {
        "teams": ("tea", s.ENGAGE_TEAM_CREATED),
        "categories": ("cat", s.ENGAGE_CATEGORY_CREATED),
    }[kind]
    async with uow:
        link = await _engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        row = await uow.catalog.add_named(
            kind, {"id": new_id(prefix), "engage_account_id": link["id"], "name": cmd.name}
        )
        if row is None:
            what = "team" if kind == "teams" else "category"
            raise Conflict(f"A {what} of that name already exists.", {"field": "name"})
        out = _named(row)
        uow.add_event(make_event(SOURCE, subject, out, key=row["id"]))
        await uow.commit()
    return out


# --- Engage Voice ---------------------------------------------------------------------------
def _may_act_for(p: Principal, account_id: str, user_id: str) -> None:
    """An agent signs itself in (``self``); an admin (``engage.manage``) may do it for anyone."""
    p.require_account(account_id)
    if p.operator or Perm.ENGAGE_MANAGE in p.permissions:
        return
    if p.user_id == user_id and Perm.SELF in p.permissions:
        return
    raise Forbidden("Only the agent itself or an Engage administrator may do this.")


def to_session(row: Row, status: str) -> c.VoiceSession:
    return c.VoiceSession(
        login=row["login"],
        user_id=row["user_id"],
        account_id=row["account_id"],
        status=status,
        agent_id=row.get("agent_id"),
        engage_account_id=row.get("engage_account_id"),
        signed_in_at=row.get("signed_in_at") if status == "signed_in" else None,
    )


async def _agent_login(uow: UnitOfWork, account_id: str, user_id: str) -> Row:
    agent = await uow.agents.for_user_in_account(account_id, user_id)
    if agent is None:
        raise NotFound(
            "That user is not a contact-centre agent of this account.", {"user_id": user_id}
        )
    return agent


async def voice_sign_in(cmd: c.VoiceSignIn, uow: UnitOfWork, p: Principal) -> c.VoiceSession:
    """Engage Voice: an agent login (its email) is signed in to one account at a time;
    signing in again to the same account is a no-op."""
    _may_act_for(p, cmd.account_id, cmd.user_id)
    async with uow:
        agent = await _agent_login(uow, cmd.account_id, cmd.user_id)
        login = domain.voice_login(agent["email"])
        row = await uow.voice.insert(
            {
                "login": login,
                "account_id": cmd.account_id,
                "user_id": cmd.user_id,
                "agent_id": agent["id"],
                "engage_account_id": agent["engage_account_id"],
            }
        )
        if row is None:
            current = await uow.voice.get(login)
            if current is not None and (
                current["account_id"] == cmd.account_id and current["user_id"] == cmd.user_id
            ):
                return to_session(current, "signed_in")
            raise Conflict(domain.VOICE_RULE_MESSAGE, {"rule": domain.VOICE_RULE, "login": login})
        session = to_session(row, "signed_in")
        uow.add_event(
            make_event(SOURCE, s.ENGAGE_VOICE_SIGNED_IN, session.model_dump(mode="json"), key=login)
        )
        await uow.commit()
    return session


async def voice_sign_out(cmd: c.VoiceSignIn, uow: UnitOfWork, p: Principal) -> c.VoiceSession:
    """Frees the login for any account; signing out when not signed in is a no-op."""
    _may_act_for(p, cmd.account_id, cmd.user_id)
    async with uow:
        agent = await _agent_login(uow, cmd.account_id, cmd.user_id)
        login = domain.voice_login(agent["email"])
        row = await uow.voice.delete(login, cmd.account_id, cmd.user_id)
        base = row or {
            "login": login,
            "account_id": cmd.account_id,
            "user_id": cmd.user_id,
            "agent_id": agent["id"],
            "engage_account_id": agent["engage_account_id"],
        }
        session = to_session(base, "signed_out")
        if row is not None:
            uow.add_event(
                make_event(
                    SOURCE, s.ENGAGE_VOICE_SIGNED_OUT, session.model_dump(mode="json"), key=login
                )
            )
            await uow.commit()
    return session
