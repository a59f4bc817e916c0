"""account service contract: accounts, settings, sites, cost centers, inventory, portals."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, field_validator

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
    status_reason: str | None = None
    version: int = 1

    @field_validator("user_types", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        return list(value)

    def facts(self) -> dict[str, Any]:
        """These fields alone, of an event that carries more (``settings`` of
        ``account.settings_updated``, ``previous_status`` of ``status_changed``)."""
        return self.model_dump(include=_FACT_FIELDS)


_FACT_FIELDS = set(AccountFacts.model_fields)

# --- plans -------------------------------------------------------------------


class ListPlans(Command):
    pass


class PlanView(Model):
    plan: str
    name: str
    description: str
    user_types: list[str]


class PlanList(Model):
    items: list[PlanView]


# --- sites and cost centers ---------------------------------------------------

SiteCode = Annotated[str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)]


class CreateSite(Command):
    account_id: Id
    name: Name
    code: SiteCode | None = None
    time_zone: TimeZone | None = None


class ListSites(PageRequest):
    account_id: Id


class UpdateSite(Command):
    """A partial change: omitted (or null) fields stay as they are."""

    account_id: Id
    site_id: Id
    name: Name | None = None
    code: SiteCode | None = None
    time_zone: TimeZone | None = None


class RemoveSite(Command):
    """Refused (``conflict``, with ``details.users``) while users are on the site."""

    account_id: Id
    site_id: Id


class Site(Model):
    id: str
    account_id: str
    name: str
    code: str | None = None
    time_zone: str
    created_at: Any = None


class SitePage(Model):
    items: list[Site]
    next_cursor: str | None = None


class CreateCostCenter(Command):
    account_id: Id
    name: Name


class ListCostCenters(PageRequest):
    account_id: Id


class CostCenter(Model):
    id: str
    account_id: str
    name: str
    created_at: Any = None


class CostCenterPage(Model):
    items: list[CostCenter]
    next_cursor: str | None = None


# --- inventory, purchases, charges -------------------------------------------

AreaCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}$")]
DeviceModel = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
Quantity = Annotated[int, Field(ge=1, le=500)]
Ref = int | str | None


class LicenseItem(Command):
    kind: Literal["license"]
    user_type: UserType
    quantity: Quantity = 1


class NumberItem(Command):
    kind: Literal["number"]
    area_code: AreaCode | None = None
    quantity: Annotated[int, Field(ge=1, le=100)] = 1


class DeviceItem(Command):
    kind: Literal["device"]
    model: DeviceModel
    quantity: Annotated[int, Field(ge=1, le=100)] = 1


PurchaseItem = Annotated[LicenseItem | NumberItem | DeviceItem, Field(discriminator="kind")]


class PurchaseInventory(Command):
    account_id: Id
    items: list[PurchaseItem] = Field(min_length=1, max_length=20)
    acknowledge_charges: bool = False


class Charge(Model):
    id: str
    account_id: str
    kind: str
    item: str
    quantity: int
    unit_price: str
    amount: str
    currency: str
    purchase_id: str | None = None
    user_id: str | None = None
    cycle: str | None = None
    created_at: Any = None


class Purchase(Model):
    id: str
    account_id: str
    items: list[dict[str, Any]]
    charges: list[Charge]
    numbers: list[str] = Field(default_factory=list)
    device_ids: list[str] = Field(default_factory=list)
    total: str
    currency: str
    created_at: Any = None


class ListCharges(PageRequest):
    account_id: Id
    kind: str | None = Field(default=None, max_length=40)


class ChargePage(Model):
    items: list[Charge]
    next_cursor: str | None = None


class GetInventory(Command):
    account_id: Id


class LicenseCount(Model):
    user_type: str
    total: int
    allocated: int
    free: int


class NumberView(Model):
    number: str
    status: str
    allocation_id: str | None = None


class DeviceView(Model):
    id: str
    model: str
    status: str
    allocation_id: str | None = None


class InventoryFree(Model):
    licenses: dict[str, int]
    numbers: int
    devices: int


class Inventory(Model):
    account_id: str
    licenses: list[LicenseCount]
    numbers: list[NumberView]
    devices: list[DeviceView]
    free: InventoryFree


# internal: identity reserves inventory for the users it adds


class AllocLicense(Command):
    kind: Literal["license"]
    user_type: UserType
    purchase: bool = False
    ref: Ref = None


class AllocNumber(Command):
    kind: Literal["number"]
    number: Annotated[str, AfterValidator(v.e164)] | None = None
    purchase: bool = False
    area_code: AreaCode | None = None
    ref: Ref = None


class AllocDevice(Command):
    kind: Literal["device"]
    device_id: Id | None = None
    model: DeviceModel | None = None
    purchase: bool = False
    ref: Ref = None


AllocItem = Annotated[AllocLicense | AllocNumber | AllocDevice, Field(discriminator="kind")]


class Allocate(Command):
    request_id: Id
    account_id: Id
    acknowledge_charges: bool = False
    purchase_allowed: bool = False
    items: list[AllocItem] = Field(default_factory=list, max_length=200)


class Allocation(Model):
    ref: Ref = None
    kind: str
    user_type: str | None = None
    number: str | None = None
    device_id: str | None = None
    model: str | None = None
    purchased: bool = False


class AllocateReply(Model):
    request_id: str
    allocations: list[Allocation]
    charges: list[Charge] = Field(default_factory=list)


class Release(Command):
    request_id: Id


class ReleaseReply(Model):
    request_id: str
    released: bool


# --- multi-account portals ---------------------------------------------------


class CreatePortal(Command):
    name: Name


class Portal(Model):
    id: str
    name: str
    owner_user_id: str
    owner_account_id: str | None = None
    linked_accounts: int = 0
    created_at: Any = None


class IssueLinkCode(Command):
    account_id: Id


class LinkCode(Model):
    account_id: str
    link_code: str
    expires_at: Any


class LinkAccount(Command):
    portal_id: Id
    account_id: Id
    link_code: Annotated[str, Field(min_length=1, max_length=200)]


class UnlinkAccount(Command):
    portal_id: Id
    account_id: Id


class PortalOverviewRequest(Command):
    portal_id: Id


class PortalAccount(Model):
    account_id: str
    name: str
    country: str
    status: str
    status_reason: str | None = None
    service_status: str
    users: int
    pending_invites: int


class PortalOverview(Model):
    portal_id: str
    name: str
    accounts: list[PortalAccount]


class ListPortals(PageRequest):
    """The caller's own portals (those it created and administers), paged by id."""


class PortalPage(Model):
    items: list[Portal]
    next_cursor: str | None = None


class SwitchAccount(Command):
    portal_id: Id
    account_id: Id
