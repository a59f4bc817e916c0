"""Agents and Engage Voice sessions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from shared.bulk import unnest_insert, unnest_params
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from engage_import.adapters.repository import like_pattern
from engage_import.adapters.tables import agents, roles, voice_sessions

Row = dict[str, Any]

_TEXT_COLUMNS = (
    "id",
    "engage_account_id",
    "user_id",
    "account_id",
    "first_name",
    "last_name",
    "email",
    "username",
    "username_base",
    "role_id",
    "time_zone",
    "language",
    "import_id",
)
_JSON_COLUMNS = ("team_ids", "category_ids", "time_zone_mapping", "language_mapping")
_COLUMNS = _TEXT_COLUMNS + _JSON_COLUMNS


def _insert_agents() -> ReturningInsert[Any]:
    """One statement for a whole chunk, one array per column (``INSERT … SELECT FROM
    unnest(…)``): a multi-row VALUES of 17 columns is compiled anew for every chunk
    and cost more than the insert itself. An agent that already exists for (Engage
    account, user) is left alone; the user ids of those inserted are returned."""
    return (
        unnest_insert(agents, _COLUMNS)
        .on_conflict_do_nothing(index_elements=[agents.c.engage_account_id, agents.c.user_id])
        .returning(agents.c.user_id)
    )


_INSERT_AGENTS = _insert_agents()


def _each(name: str) -> sa.TableValuedAlias:
    """The strings of list parameter ``name`` as rows (``unnest``), to join on: one
    bound array however long the list, and an index lookup per element, where
    ``IN``/``= ANY`` of a parameter compares every row of the account with every
    element (a chunk's queries then grew with the agents already imported)."""
    return (
        sa.func.unnest(sa.bindparam(name, type_=ARRAY(sa.Text)))
        .table_valued("value")
        .render_derived()
    )


def _agent_select() -> sa.Select[Any]:
    return sa.select(agents, roles.c.name.label("role")).select_from(
        agents.outerjoin(
            roles,
            sa.and_(
                roles.c.engage_account_id == agents.c.engage_account_id,
                roles.c.id == agents.c.role_id,
            ),
        )
    )


class AgentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_many(self, rows: list[Row]) -> set[str]:
        """Insert; an agent that already exists for (Engage account, user) is left alone."""
        if not rows:
            return set()
        params = unnest_params(agents, _COLUMNS, rows)
        return set((await self.session.execute(_INSERT_AGENTS, params)).scalars().all())

    async def by_users(self, engage_account_id: str, user_ids: list[str]) -> dict[str, Row]:
        if not user_ids:
            return {}
        wanted = _each("user_ids")
        q = sa.select(agents.c.id, agents.c.user_id, agents.c.username).join_from(
            agents,
            wanted,
            sa.and_(
                agents.c.engage_account_id == engage_account_id, agents.c.user_id == wanted.c.value
            ),
        )
        rows = (await self.session.execute(q, {"user_ids": user_ids})).all()
        return {r.user_id: dict(r._mapping) for r in rows}

    async def taken_usernames(self, engage_account_id: str, bases: Iterable[str]) -> set[str]:
        wanted = list(set(bases))
        if not wanted:
            return set()
        each = _each("bases")
        q = sa.select(agents.c.username).join_from(
            agents,
            each,
            sa.and_(
                agents.c.engage_account_id == engage_account_id,
                agents.c.username_base == each.c.value,
            ),
        )
        return set((await self.session.execute(q, {"bases": wanted})).scalars().all())

    async def get(
        self,
        engage_account_id: str,
        *,
        agent_id: str | None = None,
        user_id: str | None = None,
        for_update: bool = False,
    ) -> Row | None:
        q = _agent_select().where(agents.c.engage_account_id == engage_account_id)
        if agent_id is not None:
            q = q.where(agents.c.id == agent_id)
        if user_id is not None:
            q = q.where(agents.c.user_id == user_id)
        if for_update:
            q = q.with_for_update(of=agents)
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def of_users(self, user_ids: Iterable[str]) -> list[Row]:
        """Every agent of these phone-system users, in any Engage account, locked."""
        wanted = list(set(user_ids))
        if not wanted:
            return []
        q = (
            _agent_select()
            .where(agents.c.user_id.in_(wanted))
            .order_by(agents.c.id)
            .with_for_update(of=agents)
        )
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def update(self, agent_id: str, values: Row) -> None:
        await self.session.execute(
            sa.update(agents)
            .where(agents.c.id == agent_id)
            .values(**values, updated_at=sa.func.now())
        )

    async def delete(self, agent_id: str) -> Row | None:
        stmt = sa.delete(agents).where(agents.c.id == agent_id).returning(agents)
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def list(
        self,
        engage_account_id: str,
        *,
        query: str | None,
        role_id: str | None,
        team_id: str | None,
        after: str | None,
        limit: int,
    ) -> list[Row]:
        q = (
            _agent_select()
            .where(agents.c.engage_account_id == engage_account_id)
            .order_by(agents.c.id)
            .limit(limit)
        )
        if after:
            q = q.where(agents.c.id > after)
        if role_id:
            q = q.where(agents.c.role_id == role_id)
        if team_id:
            q = q.where(agents.c.team_ids.contains([team_id]))
        if query:
            like = like_pattern(query)
            full = sa.func.lower(agents.c.first_name + " " + agents.c.last_name)
            q = q.where(
                sa.or_(
                    full.like(like, escape="\\"),
                    sa.func.lower(agents.c.email).like(like, escape="\\"),
                    agents.c.username.like(like, escape="\\"),
                )
            )
        return [dict(r._mapping) for r in (await self.session.execute(q)).all()]

    async def for_user_in_account(
        self, account_id: str, user_id: str, *, for_update: bool = False
    ) -> Row | None:
        q = (
            sa.select(agents)
            .where(agents.c.account_id == account_id, agents.c.user_id == user_id)
            .order_by(agents.c.created_at, agents.c.id)
            .limit(1)
        )
        if for_update:
            q = q.with_for_update()
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None


class VoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, row: Row) -> Row | None:
        stmt = (
            insert(voice_sessions).values(**row).on_conflict_do_nothing().returning(voice_sessions)
        )
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None

    async def get(self, login: str) -> Row | None:
        q = sa.select(voice_sessions).where(voice_sessions.c.login == login).with_for_update()
        r = (await self.session.execute(q)).first()
        return dict(r._mapping) if r else None

    async def end(
        self,
        *,
        account_id: str | None = None,
        user_id: str | None = None,
        agent_id: str | None = None,
        login: str | None = None,
    ) -> list[Row]:
        """End the sessions matching every criterion given; the ended sessions."""
        t = voice_sessions
        where = [
            col == value
            for col, value in (
                (t.c.account_id, account_id),
                (t.c.user_id, user_id),
                (t.c.agent_id, agent_id),
                (t.c.login, login),
            )
            if value is not None
        ]
        if not where:
            return []
        stmt = sa.delete(t).where(*where).returning(t)
        return [dict(r._mapping) for r in (await self.session.execute(stmt)).all()]

    async def delete(self, login: str, account_id: str, user_id: str) -> Row | None:
        stmt = (
            sa.delete(voice_sessions)
            .where(
                voice_sessions.c.login == login,
                voice_sessions.c.account_id == account_id,
                voice_sessions.c.user_id == user_id,
            )
            .returning(voice_sessions)
        )
        r = (await self.session.execute(stmt)).first()
        return dict(r._mapping) if r else None
