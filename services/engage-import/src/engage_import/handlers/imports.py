"""Step 2: import jobs, and the worker that imports them chunk by chunk."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import engage as c
from shared.contracts.event_data import UserSnapshot
from shared.errors import NotFound, ValidationFailed
from shared.ids import new_id
from shared.messaging.outbox import make_event

from engage_import import domain
from engage_import.domain.model import ImportJob
from engage_import.handlers.access import REJECTED_UNKNOWN, SOURCE, _now, engage_account
from engage_import.handlers.catalog import check_assignment
from engage_import.handlers.projections import directory_row
from engage_import.ports import Row, UnitOfWork
from shared import subjects as s

log = logging.getLogger(__name__)

#: (account_id, user_ids) -> identity's snapshots of those it has there; None: no answer
AskIdentity = Callable[[str, list[str]], Awaitable[list[dict[str, Any]] | None]]


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


def to_job(job: ImportJob, items: list[Row], limit: int) -> c.ImportJob:
    """The reply: the job and one page of its per-user results."""
    page = items[:limit]
    return c.ImportJob(
        id=job.id,
        engage_account_id=job.engage_account_id,
        account_id=job.account_id,
        status=job.status,
        role_id=job.role_id,
        team_ids=list(job.team_ids),
        category_ids=list(job.category_ids),
        counts=c.ImportCounts.model_validate(job.counts, from_attributes=True),
        results=[_result(i) for i in page],
        results_next_cursor=str(page[-1]["seq"]) if len(items) > limit and page else None,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
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
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_MANAGE)
        errors = await check_assignment(uow, link, cmd.role_id, cmd.team_ids, cmd.category_ids)
        if errors:
            raise ValidationFailed(
                "The import names roles, teams or categories that do not exist.", errors
            )
        row = await uow.imports.add_job(
            {
                "id": new_id("imp"),
                "engage_account_id": link.id,
                "account_id": link.account_id,
                "status": "queued",
                "role_id": cmd.role_id,
                "team_ids": domain.dedupe(cmd.team_ids),
                "category_ids": domain.dedupe(cmd.category_ids),
                "total": len(user_ids),
                "requested_by": p.user_id[:64],
            },
            user_ids,
        )
        job = ImportJob.from_row(row)
        items = await uow.imports.items(
            job.id, after=None, status=None, limit=cmd.results_limit + 1
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
        link = await engage_account(uow, cmd.engage_account_id, p, Perm.ENGAGE_READ)
        row = await uow.imports.get_job(cmd.import_id)
        job = ImportJob.from_row(row) if row is not None else None
        if job is None or not job.belongs_to(link):
            raise NotFound("No such import.", {"import_id": cmd.import_id})
        items = await uow.imports.items(
            job.id, after=after, status=cmd.result_status, limit=cmd.results_limit + 1
        )
    return to_job(job, items, cmd.results_limit)


async def work_next_chunk(
    uow: UnitOfWork,
    chunk_size: int,
    *,
    wait_unknown: float = 0.0,
    retry_unknown: float = 1.0,
    ask_identity: AskIdentity | None = None,
) -> bool:
    """Import the next chunk of the oldest open job nobody else is working on.

    One transaction: the job row (SKIP LOCKED, so replicas share jobs), the Engage
    account row (so usernames are assigned by one worker at a time), the chunk's
    items, one batch insert of agents (ON CONFLICT (engage account, user) DO
    NOTHING: a re-import never duplicates), the results, the counts and the events.
    A worker that dies mid-chunk rolls back and any instance picks the job up again.
    An item whose user engage has not heard of yet (the directory event is still on
    its way) is put back for ``retry_unknown`` seconds, until ``wait_unknown`` seconds
    after the import was created; then identity is asked (``ask_identity``): a user it
    has in this account goes into the directory and is imported, one it has not is
    rejected ``not_found``, and while identity cannot answer the item keeps waiting.
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
        waiting = (_now() - job["created_at"]).total_seconds() < wait_unknown
        if not waiting and ask_identity is not None:
            waiting = not await _learn_unknown(uow, job["account_id"], items, ask_identity)
        results, new_agents = await _import_items(uow, job, link, items, defer_unknown=waiting)
        done = {r["seq"] for r in results}
        deferred = [i["seq"] for i in items if i["seq"] not in done]
        await uow.imports.defer_items(job["id"], deferred, retry_unknown)
        await uow.imports.set_results(job["id"], results)
        job = await uow.imports.update_job(
            job["id"], values | _counts_after(job, results, deferred)
        )
        _chunk_events(uow, job, new_agents, progressed=bool(done))
        await uow.commit()
    return True


def _counts_after(job: Row, results: list[Row], deferred: list[int]) -> Row:
    """The job's counts once ``results`` are in (finished when nothing is left, or only
    nothing could be done)."""
    by_status = Counter(r["status"] for r in results)
    processed = job["processed"] + len(results)
    values: Row = {
        "processed": processed,
        "imported": job["imported"] + by_status["imported"],
        "already_imported": job["already_imported"] + by_status["already_imported"],
        "rejected": job["rejected"] + by_status["rejected"],
    }
    if processed >= job["total"] or not (results or deferred):
        values |= {"status": "finished", "finished_at": _now()}
    return values


def _chunk_events(uow: UnitOfWork, job: Row, new_agents: list[Row], *, progressed: bool) -> None:
    for agent in new_agents:
        uow.add_event(make_event(SOURCE, s.ENGAGE_AGENT_IMPORTED, agent, key=agent["agent_id"]))
    if progressed:
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


async def _learn_unknown(
    uow: UnitOfWork, account_id: str, items: list[Row], ask: AskIdentity
) -> bool:
    """Ask identity about the users of ``items`` engage has never heard of; what it
    has goes into the directory (the newest version wins, as with events). False:
    identity could not answer, so they wait on."""
    ids = sorted({i["user_id"] for i in items})
    unknown = sorted(set(ids) - set(await uow.directory.lookup(ids)))
    if not unknown:
        return True
    facts = await ask(account_id, unknown)
    if facts is None:
        return False
    rows = [
        directory_row(UserSnapshot.model_validate(f)) for f in facts if f.get("user_id") in unknown
    ]
    if rows:
        log.info("import: %d users identity has, not heard of here yet", len(rows))
        await uow.directory.upsert_many(rows)
    return True


async def _import_items(
    uow: UnitOfWork, job: Row, link: Row, items: list[Row], *, defer_unknown: bool = False
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Per-item results and the ``agent.imported`` payloads of one chunk; with
    ``defer_unknown``, an item of an unknown user gets no result (it waits)."""
    if not items:
        return [], []
    engage_id = link["id"]
    # one statement, one snapshot: whether a user is here and whether it is known at
    # all must not be read at two moments (a directory batch committing in between
    # made users of this account look "known elsewhere" and be rejected at once)
    seen = await uow.directory.lookup([i["user_id"] for i in items])
    users = {
        uid: row
        for uid, row in seen.items()
        if row["account_id"] == job["account_id"] and not row["removed"]
    }
    # a user of another account, or removed, is rejected now; only one engage has not
    # heard of at all may still be on its way
    waiting = {i["user_id"] for i in items if i["user_id"] not in seen} if defer_unknown else set()
    existing = await uow.agents.by_users(engage_id, list(users))
    fresh = [users[i["user_id"]] for i in items if i["user_id"] in users]
    fresh = [u for u in fresh if u["user_id"] not in existing]
    bases = [domain.username_base(u["email"]) for u in fresh]
    names = domain.assign_usernames(bases, await uow.agents.taken_usernames(engage_id, bases))
    rows = [
        _agent_row(job, link, u, base, name)
        for u, base, name in zip(fresh, bases, names, strict=True)
    ]
    inserted = await uow.agents.insert_many(rows)
    lost = [r["user_id"] for r in rows if r["user_id"] not in inserted]
    if lost:  # only if an agent appeared since the check above: report the one that exists
        existing |= await uow.agents.by_users(engage_id, lost)
    by_user = {r["user_id"]: r for r in rows if r["user_id"] in inserted}
    results = [
        res for item in items if (res := _item_result(item, by_user, existing, waiting)) is not None
    ]
    return results, [_imported_event(r) for r in by_user.values()]


def _agent_row(job: Row, link: Row, u: Row, base: str, username: str) -> Row:
    tz = domain.map_time_zone(u.get("time_zone"), link["default_time_zone"])
    lang = domain.map_language(u.get("language"), link["default_language"])
    return {
        "id": new_id("agt"),
        "engage_account_id": link["id"],
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


def _item_result(
    item: Row, created: dict[str, Row], existing: dict[str, Row], waiting: set[str]
) -> Row | None:
    """One item's result; None while it waits for a user engage has not heard of."""
    uid = item["user_id"]
    res: Row = {"seq": item["seq"], "user_id": uid}
    if uid in created:
        r = created[uid]
        return res | {
            "status": "imported",
            "agent_id": r["id"],
            "username": r["username"],
            "time_zone": r["time_zone_mapping"],
            "language": r["language_mapping"],
        }
    if uid in existing:
        return res | {
            "status": "already_imported",
            "agent_id": existing[uid]["id"],
            "username": existing[uid]["username"],
        }
    if uid in waiting:
        return None
    return res | {"status": "rejected", "reason": REJECTED_UNKNOWN}


def _imported_event(r: Row) -> dict[str, Any]:
    return {
        "agent_id": r["id"],
        "engage_account_id": r["engage_account_id"],
        "account_id": r["account_id"],
        "user_id": r["user_id"],
        "import_id": r["import_id"],
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
