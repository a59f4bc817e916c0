"""The engage-import aggregates as typed objects: an Engage account link, an import
job, an agent and the phone-system user it follows, and the Engage Voice rules.
Pure: no I/O; built from and turned back into repository rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from engage_import.domain import map_language, map_time_zone, voice_login

AgentStatus = Literal["Enabled", "Disabled"]
ImportStatus = Literal["queued", "running", "finished"]
#: the account statuses whose users Engage Voice refuses (DOMAIN.md section 6)
CLOSED_FOR_VOICE = frozenset({"Suspended", "Closed"})


@dataclass(frozen=True)
class EngageLink:
    """An Engage Digital account linked to one phone-system account, with the defaults
    its agents fall back to when a user's time zone or language does not map."""

    id: str
    name: str
    account_id: str
    default_time_zone: str
    default_language: str
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> EngageLink:
        return cls(
            id=row["id"],
            name=row["name"],
            account_id=row["account_id"],
            default_time_zone=row["default_time_zone"],
            default_language=row["default_language"],
            created_at=row.get("created_at"),
        )


@dataclass(frozen=True)
class ImportCounts:
    total: int
    processed: int
    imported: int
    already_imported: int
    rejected: int


@dataclass(frozen=True)
class ImportJob:
    """An import of chosen users into one Engage account, worked chunk by chunk."""

    id: str
    engage_account_id: str
    account_id: str
    status: ImportStatus
    role_id: str
    team_ids: tuple[str, ...]
    category_ids: tuple[str, ...]
    counts: ImportCounts
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ImportJob:
        return cls(
            id=row["id"],
            engage_account_id=row["engage_account_id"],
            account_id=row["account_id"],
            status=row["status"],
            role_id=row["role_id"],
            team_ids=tuple(row["team_ids"]),
            category_ids=tuple(row["category_ids"]),
            counts=ImportCounts(
                total=row["total"],
                processed=row["processed"],
                imported=row["imported"],
                already_imported=row["already_imported"],
                rejected=row["rejected"],
            ),
            created_at=row.get("created_at"),
            started_at=row.get("started_at"),
            finished_at=row.get("finished_at"),
        )

    def belongs_to(self, link: EngageLink) -> bool:
        return self.engage_account_id == link.id


@dataclass(frozen=True)
class DirectoryUser:
    """A phone-system user as engage's directory projection knows it."""

    user_id: str
    account_id: str
    first_name: str
    last_name: str
    email: str
    status: str | None
    time_zone: str | None
    language: str | None
    removed: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DirectoryUser:
        return cls(
            user_id=row["user_id"],
            account_id=row["account_id"],
            first_name=row.get("first_name") or "",
            last_name=row.get("last_name") or "",
            email=row.get("email") or "",
            status=row.get("status"),
            time_zone=row.get("time_zone"),
            language=row.get("language"),
            removed=bool(row.get("removed")),
        )

    @property
    def disabled(self) -> bool:
        return self.status == "Disabled"


#: the agent fields that follow the phone-system user (DOMAIN.md sections 5 and 6)
FOLLOWED = ("first_name", "last_name", "email", "time_zone", "language", "status")


@dataclass(frozen=True)
class Agent:
    """A phone-system user imported into an Engage account. Its names, email, time
    zone, language and status follow the user; its role, teams and categories are
    the Engage administrator's."""

    id: str
    engage_account_id: str
    account_id: str
    user_id: str
    first_name: str
    last_name: str
    email: str
    username: str
    role_id: str
    team_ids: tuple[str, ...]
    category_ids: tuple[str, ...]
    time_zone: str
    language: str
    time_zone_mapping: dict[str, Any]
    language_mapping: dict[str, Any]
    status: AgentStatus = "Enabled"
    role: str | None = None
    import_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Agent:
        return cls(
            id=row["id"],
            engage_account_id=row["engage_account_id"],
            account_id=row["account_id"],
            user_id=row["user_id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            username=row["username"],
            role_id=row["role_id"],
            team_ids=tuple(row["team_ids"]),
            category_ids=tuple(row["category_ids"]),
            time_zone=row["time_zone"],
            language=row["language"],
            time_zone_mapping=dict(row["time_zone_mapping"]),
            language_mapping=dict(row["language_mapping"]),
            status=row.get("status") or "Enabled",
            role=row.get("role"),
            import_id=row.get("import_id"),
            created_at=row.get("created_at"),
            updated_at=row.get("updated_at"),
        )

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    @property
    def voice_login(self) -> str:
        return voice_login(self.email)

    def assign(
        self,
        role_id: str | None = None,
        team_ids: list[str] | None = None,
        category_ids: list[str] | None = None,
    ) -> tuple[Agent, list[str]]:
        """The agent with a new role, teams or categories (None: unchanged), and the
        names of the fields that changed."""
        new = replace(
            self,
            role_id=self.role_id if role_id is None else role_id,
            team_ids=self.team_ids if team_ids is None else tuple(dict.fromkeys(team_ids)),
            category_ids=(
                self.category_ids if category_ids is None else tuple(dict.fromkeys(category_ids))
            ),
        )
        return new, self._changed(new, ("role_id", "team_ids", "category_ids"))

    def follow(self, user: DirectoryUser, link: EngageLink) -> tuple[Agent, list[str]]:
        """The agent after the phone system's user: names, email, time zone and language
        (mapped as on import, with the Engage account's defaults), and the status
        (a Disabled user's agent is Disabled; any other status enables it again)."""
        tz = map_time_zone(user.time_zone, link.default_time_zone)
        lang = map_language(user.language, link.default_language)
        new = replace(
            self,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
            time_zone=tz.value,
            language=lang.value,
            time_zone_mapping=tz.as_dict(),
            language_mapping=lang.as_dict(),
            status="Disabled" if user.disabled else "Enabled",
        )
        changed = self._changed(new, FOLLOWED)
        if new.time_zone_mapping != self.time_zone_mapping and "time_zone" not in changed:
            changed.append("time_zone")
        if new.language_mapping != self.language_mapping and "language" not in changed:
            changed.append("language")
        return new, changed

    def _changed(self, new: Agent, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if getattr(self, n) != getattr(new, n)]

    def values(self, names: list[str]) -> dict[str, Any]:
        """The row values of ``names`` (for the repository's update)."""
        out: dict[str, Any] = {}
        for n in names:
            value = getattr(self, n)
            out[n] = list(value) if isinstance(value, tuple) else value
            if n == "time_zone":
                out["time_zone_mapping"] = self.time_zone_mapping
            if n == "language":
                out["language_mapping"] = self.language_mapping
        return out


def voice_refusal(
    agent: Agent, user: DirectoryUser | None, account_status: str | None
) -> str | None:
    """Why Engage Voice refuses this agent, or None: a disabled agent or user, a
    removed user, or a Suspended or Closed account (DOMAIN.md section 6)."""
    if account_status in CLOSED_FOR_VOICE:
        return "account_not_active"
    if user is not None and user.removed:
        return "user_removed"
    if not agent.enabled or (user is not None and user.disabled):
        return "agent_disabled"
    return None
