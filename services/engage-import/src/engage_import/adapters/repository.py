from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from shared.bulk import by_shape, unnest_params, upsert_newer
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from engage_import.adapters.tables import (
    accounts,
    agents,
    categories,
    directory_users,
    engage_accounts,
    import_items,
    import_jobs,
    roles,
    teams,
)

Row = dict[str, Any]


def like_pattern(query: str) -> str:
    escaped = query.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


class AccountFactsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, facts: Row) -> None:
        values = {
            "account_id": facts["account_id"],
            "name": facts["name"],
            "status": facts["status"],
            "default_time_zone": facts.get("default_time_zone"),
            "default_language": facts.get("default_language"),
            "facts": facts,
        }
        stmt = insert(accounts).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[accounts.c.account_id],
            set_={k: stmt.excluded[k] for k in values if k != "account_id"}
            | {"updated_at": sa.func.now()},
        )
        await self.session.execute(stmt)

    async def get(self, account_id: str, *, for_share: bool = False) -> Row | None:
        q = sa.select(accounts).where(accounts.c.account_id == account_id)
        if for_share:
            q = q.with_for_update(read=True)
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_many(self, rows: list[Row]) -> None:
        """Keep the highest version of each user; an older snapshot changes nothing.
        One statement per shape of row (snapshots, removals); one row per user."""
        for keys, group in by_shape(rows).items():
            params = unnest_params(directory_users, keys, group)
            await self.session.execute(upsert_newer(directory_users, keys), params)

    async def lookup(self, user_ids: list[str]) -> dict[str, Row]:
        """Every directory row of ``user_ids`` (any account, removed too), read at once."""
        if not user_ids:
            return {}
        ids = sa.bindparam("user_ids", type_=ARRAY(sa.Text))
        q = sa.select(directory_users).where(directory_users.c.user_id == sa.any_(ids))
        rows = (await self.session.execute(q, {"user_ids": user_ids})).all()
        return {r.user_id: dict(r._mapping) for r in rows}

    async def get(self, user_id: str) -> Row | None:
        q = sa.select(directory_users).where(directory_users.c.user_id == user_id)
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def many(self, user_ids: Iterable[str]) -> dict[str, Row]:
        """These users as the directory has them (removed ones too), by id."""
        wanted = list(set(user_ids))
        if not wanted:
            return {}
        q = sa.select(directory_users).where(directory_users.c.user_id.in_(wanted))
        return {r.user_id: dict(r._mapping) for r in (await self.session.execute(q)).all()}

    async def candidates(
        self,
        *,
        account_id: str,
        engage_account_id: str,
        query: str | None,
        imported: bool | None,
        after: str | None,
        limit: int,
    ) -> list[Row]:
        d = directory_users
        a = agents
        joined = d.outerjoin(
            a, sa.and_(a.c.engage_account_id == engage_account_id, a.c.user_id == d.c.user_id)
        )
        q = (
            sa.select(
                d.c.user_id,
                d.c.first_name,
                d.c.last_name,
                d.c.email,
                a.c.id.is_not(None).label("imported"),
            )
            .select_from(joined)
            .where(d.c.account_id == account_id, d.c.removed.is_(False))
            .order_by(d.c.user_id)
            .limit(limit)
        )
        if after:
            q = q.where(d.c.user_id > after)
        if query:
            like = like_pattern(query)
            full = sa.func.lower(d.c.first_name + " " + d.c.last_name)
            q = q.where(
                sa.or_(
                    full.like(like, escape="\\"), sa.func.lower(d.c.email).like(like, escape="\\")
                )
            )
        if imported is True:
            q = q.where(a.c.id.is_not(None))
        elif imported is False:
            q = q.where(a.c.id.is_(None))
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]


class LinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Row) -> Row | None:
        stmt = (
            insert(engage_accounts)
            .values(**row)
            .on_conflict_do_nothing()
            .returning(engage_accounts)
        )
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def get(self, engage_account_id: str, *, for_update: bool = False) -> Row | None:
        q = sa.select(engage_accounts).where(engage_accounts.c.id == engage_account_id)
        if for_update:
            q = q.with_for_update()
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def many(self, engage_account_ids: Iterable[str]) -> list[Row]:
        wanted = list(set(engage_account_ids))
        if not wanted:
            return []
        q = sa.select(engage_accounts).where(engage_accounts.c.id.in_(wanted))
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def list(self, account_id: str | None, *, after: str | None, limit: int) -> list[Row]:
        """Links by id; those of one phone-system account, or of all (None)."""
        q = sa.select(engage_accounts).order_by(engage_accounts.c.id).limit(limit)
        if account_id is not None:
            q = q.where(engage_accounts.c.account_id == account_id)
        if after:
            q = q.where(engage_accounts.c.id > after)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]


_NAMED = {"teams": teams, "categories": categories}


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_roles(self, rows: list[Row]) -> None:
        await self.session.execute(insert(roles).on_conflict_do_nothing(), rows)

    async def add_role(self, row: Row) -> Row | None:
        stmt = insert(roles).values(**row).on_conflict_do_nothing().returning(roles)
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def role(self, engage_account_id: str, role_id: str) -> Row | None:
        q = sa.select(roles).where(
            roles.c.engage_account_id == engage_account_id, roles.c.id == role_id
        )
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def roles(self, engage_account_id: str, *, after: str | None, limit: int) -> list[Row]:
        q = (
            sa.select(roles)
            .where(roles.c.engage_account_id == engage_account_id)
            .order_by(roles.c.id)
            .limit(limit)
        )
        if after:
            q = q.where(roles.c.id > after)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def add_named(self, kind: str, row: Row) -> Row | None:
        t = _NAMED[kind]
        stmt = insert(t).values(**row).on_conflict_do_nothing().returning(t)
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def list_named(
        self, kind: str, engage_account_id: str, *, after: str | None, limit: int
    ) -> list[Row]:
        t = _NAMED[kind]
        q = (
            sa.select(t)
            .where(t.c.engage_account_id == engage_account_id)
            .order_by(t.c.id)
            .limit(limit)
        )
        if after:
            q = q.where(t.c.id > after)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def existing_named(
        self, kind: str, engage_account_id: str, ids: Iterable[str]
    ) -> set[str]:
        wanted = list(ids)
        if not wanted:
            return set()
        t = _NAMED[kind]
        q = sa.select(t.c.id).where(t.c.engage_account_id == engage_account_id, t.c.id.in_(wanted))
        return set((await self.session.execute(q)).scalars().all())


_ADD_ITEMS = sa.text(
    "INSERT INTO import_items (import_id, seq, user_id, status) "
    "SELECT :import_id, t.seq, t.user_id, 'pending' "
    "FROM unnest(CAST(:seqs AS int[]), CAST(:user_ids AS text[])) AS t(seq, user_id)"
).bindparams(
    sa.bindparam("seqs", type_=ARRAY(sa.Integer)),
    sa.bindparam("user_ids", type_=ARRAY(sa.Text)),
)

_SET_RESULTS = sa.text(
    "UPDATE import_items AS i SET status = t.status, reason = t.reason, agent_id = t.agent_id, "
    "username = t.username, time_zone = CAST(t.time_zone AS jsonb), "
    "language = CAST(t.language AS jsonb) "
    "FROM unnest(CAST(:seqs AS int[]), CAST(:statuses AS text[]), CAST(:reasons AS text[]), "
    "CAST(:agent_ids AS text[]), CAST(:usernames AS text[]), CAST(:zones AS text[]), "
    "CAST(:languages AS text[])) "
    "AS t(seq, status, reason, agent_id, username, time_zone, language) "
    "WHERE i.import_id = :import_id AND i.seq = t.seq"
).bindparams(
    sa.bindparam("seqs", type_=ARRAY(sa.Integer)),
    *(
        sa.bindparam(n, type_=ARRAY(sa.Text))
        for n in ("statuses", "reasons", "agent_ids", "usernames", "zones", "languages")
    ),
)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_job(self, row: Row, user_ids: list[str]) -> Row:
        job = (
            await self.session.execute(insert(import_jobs).values(**row).returning(import_jobs))
        ).one()
        await self.session.execute(
            _ADD_ITEMS,
            {"import_id": row["id"], "seqs": list(range(len(user_ids))), "user_ids": user_ids},
        )
        return dict(job._mapping)

    async def get_job(self, import_id: str) -> Row | None:
        r = (
            await self.session.execute(sa.select(import_jobs).where(import_jobs.c.id == import_id))
        ).first()
        return dict(r._mapping) if r else None

    async def claim_job(self) -> Row | None:
        """The oldest open job no other worker holds right now that has an item ready
        (not waiting for its user to be known), or no pending item at all."""
        pending = sa.and_(
            import_items.c.import_id == import_jobs.c.id, import_items.c.status == "pending"
        )
        ready = sa.exists().where(
            pending,
            sa.or_(import_items.c.retry_at.is_(None), import_items.c.retry_at <= sa.func.now()),
        )
        q = (
            sa.select(import_jobs)
            .where(import_jobs.c.status != "finished", sa.or_(ready, ~sa.exists().where(pending)))
            .order_by(import_jobs.c.created_at, import_jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def pending_items(self, import_id: str, limit: int) -> list[Row]:
        q = (
            sa.select(import_items.c.seq, import_items.c.user_id)
            .where(
                import_items.c.import_id == import_id,
                import_items.c.status == "pending",
                sa.or_(import_items.c.retry_at.is_(None), import_items.c.retry_at <= sa.func.now()),
            )
            .order_by(import_items.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def defer_items(self, import_id: str, seqs: list[int], seconds: float) -> None:
        if seqs:
            await self.session.execute(
                sa.update(import_items)
                .where(import_items.c.import_id == import_id, import_items.c.seq.in_(seqs))
                .values(
                    retry_at=sa.func.now()
                    + sa.func.make_interval(0, 0, 0, 0, 0, 0, sa.literal(seconds, sa.Float))
                )
            )

    async def set_results(self, import_id: str, results: list[Row]) -> None:
        if not results:
            return
        await self.session.execute(
            _SET_RESULTS,
            {
                "import_id": import_id,
                "seqs": [r["seq"] for r in results],
                "statuses": [r["status"] for r in results],
                "reasons": [r.get("reason") for r in results],
                "agent_ids": [r.get("agent_id") for r in results],
                "usernames": [r.get("username") for r in results],
                "zones": [_json_or_none(r.get("time_zone")) for r in results],
                "languages": [_json_or_none(r.get("language")) for r in results],
            },
        )

    async def update_job(self, import_id: str, values: Row) -> Row:
        r = (
            await self.session.execute(
                sa.update(import_jobs)
                .where(import_jobs.c.id == import_id)
                .values(**values)
                .returning(import_jobs)
            )
        ).one()
        return dict(r._mapping)

    async def items(
        self, import_id: str, *, after: int | None, status: str | None, limit: int
    ) -> list[Row]:
        q = (
            sa.select(import_items)
            .where(import_items.c.import_id == import_id)
            .order_by(import_items.c.seq)
            .limit(limit)
        )
        if after is not None:
            q = q.where(import_items.c.seq > after)
        if status:
            q = q.where(import_items.c.status == status)
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]
