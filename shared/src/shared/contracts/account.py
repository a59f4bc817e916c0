"""account service contract: accounts, settings, sites, cost centers, inventory, portals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from shared.contracts import validators as v
from shared.contracts.common import Command, Id, Model, Name, PageRequest

Plan = Literal["core", "advanced", "ultra"]
UserType = Literal["standard", "video_pro_plus", "mobile", "free"]
AccountStatus = Literal["Active", "Suspended", "Closed"]

Country = Annotated[str, AfterValidator(v.country)]
TimeZone = Annotated[str, AfterValidator(v.time_zone)]
LanguageTag = Annotated[str, AfterValidator(v.language_tag)]

PLAN_USER_TYPES: dict[str, tuple[str, ...]] = {
    "core": ("standard", "mobile", "free"),
    "advanced": ("standard", "video_pro_plus", "mobile", "free"),
    "ultra": ("standard", "video_pro_plus", "mobile", "free"),
}


class WfmIntegration(Command):
    vendor: Annotated[str, Field(min_length=1, max_length=60)]
    enabled: bool = False
    config: dict[str, Any] = Field(default_factory=dict)


class AgentState(Command):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    counts_as_available: bool = False


class AccountSettings(Command):
    """Defaults that users inherit. Every field optional on input; the full
    object is always returned."""

    international_calling: bool | None = None
    wfm_integrations: list[WfmIntegration] | None = Field(default=None, max_length=20)
    agent_states: list[AgentState] | None = Field(default=None, max_length=50)
    default_time_zone: TimeZone | None = None
    default_language: LanguageTag | None = None
    regional_format: LanguageTag | None = None
    require_unique_email: bool | None = None


class AccountSettingsView(Model):
    international_calling: bool
    wfm_integrations: list[dict[str, Any]]
    agent_states: list[dict[str, Any]]
    default_time_zone: str
    default_language: str
    regional_format: str
    require_unique_email: bool


class CreateAccount(Command):
    name: Name
    country: Country
    plan: Plan
    multi_site: bool = False
    extension_length: int = Field(default=4, ge=3, le=8)
    settings: AccountSettings | None = None


class GetAccount(Command):
    account_id: Id


class ListAccounts(PageRequest):
    query: str | None = Field(default=None, max_length=120)
    status: AccountStatus | None = None


class UpdateSettings(Command):
    account_id: Id
    settings: AccountSettings


class SetStatus(Command):
    account_id: Id
    status: AccountStatus
    reason: str | None = Field(default=None, max_length=500)


class Account(Model):
    id: str
    name: str
    country: str
    plan: str
    status: str
    status_reason: str | None = None
    multi_site: bool
    extension_length: int
    settings: AccountSettingsView
    created_at: Any = None


class AccountPage(Model):
    items: list[Account]
    next_cursor: str | None = None


class AccountFacts(Model):
    """What other services keep of an account (from account events)."""

    account_id: str
    name: str
    country: str
    plan: str
    status: str
    multi_site: bool
    extension_length: int
    require_unique_email: bool
    default_time_zone: str
    default_language: str
    regional_format: str
    user_types: list[str]

    @field_validator("user_types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        return list(value)
