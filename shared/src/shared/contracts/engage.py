"""engage-import contract: links, candidates, imports, agents, roles, teams,
categories, Engage Voice sessions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from shared.contracts import validators as v
from shared.contracts.common import Command, Id, Model, Name, PageRequest

MAX_IMPORT_USERS = 10_000
MAX_TEAMS = 100
MAX_CATEGORIES = 200

TimeZone = Annotated[str, AfterValidator(v.time_zone)]
LanguageTag = Annotated[str, AfterValidator(v.language_tag)]
Query = Annotated[str, Field(min_length=1, max_length=120)]

ImportStatus = Literal["queued", "running", "finished"]
ResultStatus = Literal["pending", "imported", "already_imported", "rejected"]
MappingRule = Literal["exact", "mapped", "fallback"]
AgentStatus = Literal["Enabled", "Disabled", "Removed"]


# --- links --------------------------------------------------------------------
class EngageAccountIn(Command):
    name: Name
    default_time_zone: TimeZone | None = None
    default_language: LanguageTag | None = None


class CreateLink(Command):
    engage_account: EngageAccountIn
    account_id: Id


class Link(Model):
    engage_account_id: str
    name: str
    account_id: str
    default_time_zone: str
    default_language: str
    created_at: Any = None


class ListLinks(PageRequest):
    """The links the caller may read: those of its own account (or of ``account_id``,
    which must be its own); an operator sees every account's, or one account's."""

    account_id: Id | None = None


class LinkPage(Model):
    items: list[Link]
    next_cursor: str | None = None


# --- candidates ---------------------------------------------------------------
class ListCandidates(PageRequest):
    engage_account_id: Id
    query: Query | None = None
    imported: bool | None = None


class Candidate(Model):
    user_id: str
    first_name: str
    last_name: str
    email: str
    imported: bool


class CandidatePage(Model):
    items: list[Candidate]
    next_cursor: str | None = None


# --- import -------------------------------------------------------------------
class ImportAgents(Command):
    engage_account_id: Id
    user_ids: list[Id] = Field(min_length=1, max_length=MAX_IMPORT_USERS)
    role_id: Id
    team_ids: list[Id] = Field(default_factory=list, max_length=MAX_TEAMS)
    category_ids: list[Id] = Field(default_factory=list, max_length=MAX_CATEGORIES)
    results_limit: int = Field(default=50, ge=0, le=500)


class GetImport(Command):
    engage_account_id: Id
    import_id: Id
    results_limit: int = Field(default=50, ge=0, le=500)
    results_cursor: str | None = Field(default=None, max_length=64)
    result_status: ResultStatus | None = None


class Mapping(Model):
    """How a phone-system value became a contact-centre value."""

    source: str | None
    value: str
    rule: MappingRule


class ImportResult(Model):
    user_id: str
    status: ResultStatus
    reason: str | None = None
    agent_id: str | None = None
    username: str | None = None
    time_zone: Mapping | None = None
    language: Mapping | None = None


class ImportCounts(Model):
    total: int
    processed: int
    imported: int
    already_imported: int
    rejected: int


class ImportJob(Model):
    id: str
    engage_account_id: str
    account_id: str
    status: ImportStatus
    role_id: str
    team_ids: list[str]
    category_ids: list[str]
    counts: ImportCounts
    results: list[ImportResult]
    results_next_cursor: str | None = None
    created_at: Any = None
    started_at: Any = None
    finished_at: Any = None


# --- agents -------------------------------------------------------------------
class ListAgents(PageRequest):
    engage_account_id: Id
    query: Query | None = None
    role_id: Id | None = None
    team_id: Id | None = None


class GetAgent(Command):
    engage_account_id: Id
    agent_id: Id | None = None
    user_id: Id | None = None

    @model_validator(mode="after")
    def _one_key(self) -> GetAgent:
        if (self.agent_id is None) == (self.user_id is None):
            raise ValueError("give exactly one of agent_id and user_id")
        return self


class IdentityLink(Model):
    """The agent signs in with the phone-system identity: no password is copied."""

    provider: str
    account_id: str
    user_id: str


class Agent(Model):
    id: str
    engage_account_id: str
    user_id: str
    first_name: str
    last_name: str
    email: str
    username: str
    role_id: str
    role: str
    team_ids: list[str]
    category_ids: list[str]
    time_zone: str
    language: str
    time_zone_mapping: Mapping
    language_mapping: Mapping
    identity: IdentityLink
    import_id: str | None = None
    created_at: Any = None
    #: Enabled, Disabled (its phone-system user is Disabled), or Removed (in the reply
    #: of ``agents.remove`` only)
    status: AgentStatus = "Enabled"
    updated_at: Any = None


class UpdateAgent(Command):
    """A new role, teams or categories (each validated against the Engage account's, as
    on import); fields left out stay as they are; at least one is given."""

    engage_account_id: Id
    agent_id: Id
    role_id: Id | None = None
    team_ids: list[Id] | None = Field(default=None, max_length=MAX_TEAMS)
    category_ids: list[Id] | None = Field(default=None, max_length=MAX_CATEGORIES)

    @model_validator(mode="after")
    def _something(self) -> UpdateAgent:
        if self.role_id is None and self.team_ids is None and self.category_ids is None:
            raise ValueError("give at least one of role_id, team_ids and category_ids")
        return self


class RemoveAgent(Command):
    engage_account_id: Id
    agent_id: Id


class AgentPage(Model):
    items: list[Agent]
    next_cursor: str | None = None


# --- roles, teams, categories ---------------------------------------------------
class ListInEngageAccount(PageRequest):
    engage_account_id: Id


class CreateRole(Command):
    engage_account_id: Id
    name: Name
    permissions: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=1, max_length=50
    )


class Role(Model):
    id: str
    engage_account_id: str
    name: str
    permissions: list[str]
    predefined: bool


class RolePage(Model):
    items: list[Role]
    next_cursor: str | None = None


class CreateNamed(Command):
    engage_account_id: Id
    name: Name


class Team(Model):
    id: str
    engage_account_id: str
    name: str


class TeamPage(Model):
    items: list[Team]
    next_cursor: str | None = None


class Category(Model):
    id: str
    engage_account_id: str
    name: str


class CategoryPage(Model):
    items: list[Category]
    next_cursor: str | None = None


# --- Engage Voice -----------------------------------------------------------------
class VoiceSignIn(Command):
    account_id: Id
    user_id: Id


class VoiceSession(Model):
    login: str
    user_id: str
    account_id: str
    status: Literal["signed_in", "signed_out"]
    agent_id: str | None = None
    engage_account_id: str | None = None
    signed_in_at: Any = None
    #: why a session ended without a sign-out (agent removed or disabled, user removed,
    #: account suspended or closed, email changed); None otherwise
    reason: str | None = None
