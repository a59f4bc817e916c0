from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.adapters import driver, sql
from identity.adapters.driver import conflict_from
from identity.adapters.tables import (
    accounts,
    cost_centers,
    extensions,
    login_throttle,
    operators,
    roles,
    sites,
    users,
)
from identity.domain import fold
from identity.ports import References


class OperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_email(self, email: str) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(operators).where(sa.func.lower(operators.c.email) == email.lower())
            )
        ).first()
        return dict(row._mapping) if row else None

    async def upsert(self, operator_id: str, email: str, password_hash: str) -> None:
        existing = await self.by_email(email)
        if existing:
            await self.session.execute(
                sa.update(operators)
                .where(operators.c.id == existing["id"])
                .values(password_hash=password_hash)
            )
        else:
            await self.session.execute(
                insert(operators)
                .values(id=operator_id, email=email, password_hash=password_hash)
                .on_conflict_do_nothing()
            )


class AccountFactsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_facts(self, facts: dict[str, Any], *, only_if_absent: bool = False) -> None:
        """Newest wins: a fact event older than what is stored changes nothing."""
        values = {
            "account_id": facts["account_id"],
            "plan": facts["plan"],
            "status": facts["status"],
            "multi_site": facts["multi_site"],
            "extension_length": facts["extension_length"],
            "require_unique_email": facts["require_unique_email"],
            "facts": facts,
        }
        stmt = insert(accounts).values(**values)
        if only_if_absent:
            await self.session.execute(stmt.on_conflict_do_nothing())
            return
        stored = sa.func.coalesce(accounts.c.facts["version"].as_integer(), 0)
        stmt = stmt.on_conflict_do_update(
            index_elements=[accounts.c.account_id],
            set_={k: stmt.excluded[k] for k in values if k != "account_id"}
            | {"updated_at": sa.func.now()},
            where=stored <= int(facts.get("version") or 0),
        )
        await self.session.execute(stmt)

    async def get(self, account_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        """``lock``: serialise this account's user and extension changes (one row lock).
        Sent by asyncpg itself (every request of identity reads it)."""
        rows = await driver.fetch(
            self.session, sql.LOCK_ACCOUNT if lock else sql.GET_ACCOUNT, account_id
        )
        return dict(rows[0]) if rows else None

    async def references(
        self,
        account_id: str,
        *,
        sites: Iterable[str],
        cost_centers: Iterable[str],
        numbers: Iterable[str],
        lock_emails: Iterable[str],
        free_in: tuple[int, int] = (0, 0),
        free_count: int = 0,
    ) -> References:
        """The account's roles, and which of these sites (with their time zones), cost
        centers and extension numbers it has, in one statement; which also takes
        transaction-scoped advisory locks on the emails (in a fixed order, so no
        deadlock), making a cross-account email check and insert atomic: read the
        emails' holders in a later statement (this one's snapshot may predate a lock).
        ``free_count`` > 0: also ``next_free(account_id, *free_in, free_count, numbers)``
        (callers hold the account row lock)."""
        rows = await driver.fetch(
            self.session,
            sql.REFERENCES,
            account_id,
            list(set(sites)),
            list(set(cost_centers)),
            list(set(numbers)),
            sorted({e.lower() for e in lock_emails}),
            *free_in,
            free_count,
        )
        r = rows[0]
        return References(
            roles=list(r["roles"]),
            sites=dict(r["sites"]),
            cost_centers=set(r["cost_centers"]),
            taken_numbers=set(r["taken"]),
            free_numbers=list(r["free"]),
        )

    async def upsert_site(
        self, site_id: str, account_id: str, name: str, time_zone: str | None = None
    ) -> None:
        stmt = insert(sites).values(
            site_id=site_id, account_id=account_id, name=name, time_zone=time_zone
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[sites.c.site_id], set_={"name": name, "time_zone": time_zone}
            )
        )

    async def remove_site(self, site_id: str) -> None:
        await self.session.execute(sa.delete(sites).where(sites.c.site_id == site_id))

    async def set_default_role(self, account_id: str, role_id: str) -> None:
        await self.session.execute(
            sa.update(accounts)
            .where(accounts.c.account_id == account_id)
            .values(default_role_id=role_id)
        )

    async def upsert_cost_center(self, cc_id: str, account_id: str, name: str) -> None:
        stmt = insert(cost_centers).values(cost_center_id=cc_id, account_id=account_id, name=name)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[cost_centers.c.cost_center_id], set_={"name": name}
            )
        )

    async def existing_sites(self, account_id: str, ids: Iterable[str]) -> dict[str, str | None]:
        """The account's sites among ``ids``, each with its time zone (None: unknown)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        q = sa.select(sites.c.site_id, sites.c.time_zone).where(
            sites.c.account_id == account_id, sites.c.site_id.in_(wanted)
        )
        return {r.site_id: r.time_zone for r in await self.session.execute(q)}

    async def existing_cost_centers(self, account_id: str, ids: Iterable[str]) -> set[str]:
        wanted = list(set(ids))
        if not wanted:
            return set()
        q = sa.select(cost_centers.c.cost_center_id).where(
            cost_centers.c.account_id == account_id, cost_centers.c.cost_center_id.in_(wanted)
        )
        return set((await self.session.execute(q)).scalars())


class RoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_account(self, account_id: str) -> list[dict[str, Any]]:
        rows = await driver.fetch(
            self.session, "SELECT * FROM roles WHERE account_id = $1 ORDER BY id", account_id
        )
        return [dict(r) for r in rows]

    async def add(self, row: dict[str, Any]) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(sa.insert(roles).values(**row))
        except IntegrityError as exc:
            raise conflict_from(exc) from exc


class ExtensionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def taken(self, account_id: str, numbers: Iterable[str]) -> set[str]:
        wanted = list(set(numbers))
        if not wanted:
            return set()
        q = sa.select(extensions.c.number).where(
            extensions.c.account_id == account_id, extensions.c.number.in_(wanted)
        )
        return set((await self.session.execute(q)).scalars())

    async def next_free(
        self, account_id: str, lo: int, hi: int, count: int, exclude: Sequence[str]
    ) -> list[str]:
        """The ``count`` lowest free numbers in [lo, hi], in one statement, from the
        account's floor (every number of the range below it is taken, see ``_freed``):
        the series is bounded by how many numbers the account uses from there, so it
        stays small however many extensions the account has. Callers hold the account
        row lock; the floor moves up to the first number found free."""
        if count == 0:
            return []
        rows = await driver.fetch(
            self.session, sql.NEXT_FREE, lo, hi, count, account_id, list(exclude)
        )
        return [r[0] for r in rows]

    async def _freed(self, account_id: str, number: str) -> None:
        """``number`` is free again: the floor goes down to it when it has the floor's
        number of digits (a floor only speaks for numbers of its own length). Always an
        update, so it waits for an allocation in flight and sees the floor it leaves."""
        if not (number.isascii() and number.isdigit()):
            return
        await driver.fetch(
            self.session,
            """
            UPDATE accounts SET extension_floor = CASE
                WHEN extension_floor > $2::bigint
                 AND length(extension_floor::text) = length($2::bigint::text)
                THEN $2::bigint ELSE extension_floor END
            WHERE account_id = $1
            """,
            account_id,
            int(number),
        )

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # no savepoint: a unique violation fails the whole request (callers that go on
        # after one, like directory provisioning, hold a savepoint of their own)
        await driver.insert_rows(self.session, extensions, rows)

    async def get(
        self, account_id: str, ext_id: str, *, lock: bool = False
    ) -> dict[str, Any] | None:
        q = sa.select(extensions).where(
            extensions.c.id == ext_id, extensions.c.account_id == account_id
        )
        if lock:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def update(self, ext_id: str, **values: Any) -> None:
        old = None
        if "number" in values:
            q = sa.select(extensions.c.account_id, extensions.c.number)
            old = (await self.session.execute(q.where(extensions.c.id == ext_id))).first()
        try:
            await self.session.execute(
                sa.update(extensions).where(extensions.c.id == ext_id).values(**values)
            )
        except IntegrityError as exc:
            raise conflict_from(exc) from exc
        if old is not None and old.number != values["number"]:
            await self._freed(old.account_id, old.number)

    async def delete(self, ext_id: str) -> None:
        q = sa.delete(extensions).where(extensions.c.id == ext_id)
        row = (
            await self.session.execute(q.returning(extensions.c.account_id, extensions.c.number))
        ).first()
        if row is not None:
            await self._freed(row[0], row[1])

    async def page(
        self, account_id: str, status: str | None, cursor: str | None, limit: int
    ) -> list[dict[str, Any]]:
        q = sa.select(extensions).where(extensions.c.account_id == account_id)
        if status:
            q = q.where(extensions.c.status == status)
        if cursor:
            q = q.where(extensions.c.id > cursor)
        q = q.order_by(extensions.c.id).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(q))]


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_emails(self, emails: Iterable[str]) -> None:
        """Transaction-scoped advisory locks on the emails (in a fixed order, so no
        deadlock), making the cross-account uniqueness check and insert atomic."""
        keys = sorted({e.lower() for e in emails})
        if not keys:
            return
        await driver.fetch(
            self.session,
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT hashtextextended(e, 7) AS k"
            " FROM unnest($1::text[]) AS e ORDER BY 1 OFFSET 0) AS s",
            keys,
        )

    async def holders(self, emails: Iterable[str]) -> list[dict[str, Any]]:
        """Who holds these emails already, in any account: (email, account_id, exclusive)."""
        keys = list({e.lower() for e in emails})
        if not keys:
            return []
        rows = await driver.fetch(
            self.session,
            "SELECT lower(email) AS email, account_id, exclusive_email FROM users"
            " WHERE lower(email) = ANY($1::text[])",
            keys,
        )
        return [dict(r) for r in rows]

    async def insert_many(
        self, rows: list[dict[str, Any]], new_extensions: list[dict[str, Any]] | None = None
    ) -> None:
        """The users, and ``new_extensions`` (theirs) in the same statement."""
        # no savepoint: a unique violation fails the whole request (callers that go on
        # after one, like directory provisioning, hold a savepoint of their own)
        await driver.insert_rows(self.session, extensions, new_extensions or [], (users, rows))

    async def get(
        self, account_id: str, user_id: str, *, lock: bool = False
    ) -> dict[str, Any] | None:
        q = sa.select(users).where(users.c.id == user_id, users.c.account_id == account_id)
        if lock:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def get_by_id(self, user_id: str, *, lock: bool = False) -> dict[str, Any] | None:
        q = sa.select(users).where(users.c.id == user_id)
        if lock:
            q = q.with_for_update()
        row = (await self.session.execute(q)).first()
        return dict(row._mapping) if row else None

    async def in_account(self, account_id: str, user_ids: list[str]) -> list[dict[str, Any]]:
        q = sa.select(users).where(users.c.account_id == account_id, users.c.id.in_(user_ids))
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def for_login(self, email: str) -> list[dict[str, Any]]:
        q = (
            sa.select(users)
            .where(sa.func.lower(users.c.email) == email.lower())
            .order_by(users.c.id)
            .limit(20)
        )
        return [dict(r._mapping) for r in (await self.session.execute(q))]

    async def update(self, user_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Apply ``values``, bump ``version``; the new row (a unique index violated,
        e.g. by a changed email, is a ``conflict``)."""
        try:
            row = (
                await self.session.execute(
                    sa.update(users)
                    .where(users.c.id == user_id)
                    .values(**values, version=users.c.version + 1, updated_at=sa.func.now())
                    .returning(*users.c)
                )
            ).first()
        except IntegrityError as exc:
            raise conflict_from(exc) from exc
        assert row is not None
        return dict(row._mapping)

    async def following_site(self, account_id: str, site_id: str) -> list[dict[str, Any]]:
        """The users on a site whose time zone came from it (locked, for a change)."""
        q = (
            sa.select(users)
            .where(
                users.c.account_id == account_id,
                users.c.profile["site_id"].astext == site_id,
                users.c.profile["time_zone_from_site"].as_boolean().is_(True),
            )
            .order_by(users.c.id)
            .with_for_update()
        )
        return [dict(r._mapping) for r in await self.session.execute(q)]

    async def delete(self, user_id: str) -> None:
        """A removed user is gone: its row (so its email is free again, DOMAIN.md 6)."""
        await self.session.execute(sa.delete(users).where(users.c.id == user_id))

    async def count_enabled_with_roles(
        self, account_id: str, role_ids: list[str], exclude_user_id: str
    ) -> int:
        """Enabled users of the account holding one of ``role_ids``, but one."""
        q = sa.select(sa.func.count()).where(
            users.c.account_id == account_id,
            users.c.status == "Enabled",
            users.c.role_id.in_(role_ids),
            users.c.id != exclude_user_id,
        )
        return int((await self.session.execute(q)).scalar_one())

    async def set_invites(self, rows: Sequence[tuple[str, dict[str, Any], str]]) -> None:
        """(user_id, invite, event time) rows, one per user: keep each user's latest
        invite state (a stored later event time wins), in one statement."""
        if not rows:
            return
        await self.session.execute(
            sa.text(
                "UPDATE users AS u SET invite = CAST(v.invite AS jsonb) "
                "FROM unnest(CAST(:ids AS text[]), CAST(:invites AS text[]), "
                "CAST(:ats AS text[])) AS v(id, invite, at) "
                "WHERE u.id = v.id AND (u.invite ->> 'at' IS NULL OR u.invite ->> 'at' <= v.at)"
            ),
            {
                "ids": [user_id for user_id, _, _ in rows],
                "invites": [json.dumps(invite | {"at": at}) for _, invite, at in rows],
                "ats": [at for _, _, at in rows],
            },
        )

    async def page(
        self, account_id: str, query: str | None, status: str | None, cursor: str | None, limit: int
    ) -> list[dict[str, Any]]:
        q = sa.select(users).where(users.c.account_id == account_id)
        if status:
            q = q.where(users.c.status == status)
        if query:
            # accent- and case-insensitive: the query folded like the stored search_text
            # (trigram index); an extension number matches exactly
            folded = " ".join(fold(query).split())
            like = "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            q = q.where(sa.or_(users.c.search_text.like(like), users.c.extension_number == query))
        if cursor:
            q = q.where(users.c.id > cursor)
        q = q.order_by(users.c.id).limit(limit + 1)
        return [dict(r._mapping) for r in (await self.session.execute(q))]

    async def email_in_use(self, email: str) -> bool:
        q = sa.select(sa.literal(1)).where(sa.func.lower(users.c.email) == email.lower()).limit(1)
        return (await self.session.execute(q)).first() is not None

    async def replace_password_hash(self, user_id: str, old: str, new: str) -> None:
        """The same password, hashed anew (no version bump: nothing a reader sees
        changes); only if the hash is still ``old`` (no password change raced it)."""
        await self.session.execute(
            sa.update(users)
            .where(users.c.id == user_id, users.c.password_hash == old)
            .values(password_hash=new)
        )


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked_until(self, email: str) -> datetime | None:
        q = sa.select(login_throttle.c.locked_until).where(
            login_throttle.c.email == email.lower(), login_throttle.c.locked_until > sa.func.now()
        )
        return (await self.session.execute(q)).scalar()

    async def failed(self, email: str, max_failures: int, lock_seconds: int) -> None:
        """Count a failure; the ``max_failures``-th in a row locks the email for a while."""
        stmt = insert(login_throttle).values(email=email.lower(), failures=1)
        t = login_throttle
        new_count = sa.case((t.c.locked_until <= sa.func.now(), 1), else_=t.c.failures + 1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.email],
            set_={
                "failures": new_count,
                "locked_until": sa.case(
                    (
                        new_count >= max_failures,
                        sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, lock_seconds),
                    ),
                    else_=None,
                ),
                "updated_at": sa.func.now(),
            },
        )
        await self.session.execute(stmt)

    async def clear(self, email: str) -> None:
        await self.session.execute(
            sa.delete(login_throttle).where(login_throttle.c.email == email.lower())
        )
