"""The ``data`` of every event (docs/internal-contract.md "Events"), one model per
subject: the AsyncAPI document's per-event payload schemas come from here.

Replies that travel unchanged as event data reuse their contract model; the others
are described here. They document what consumers may rely on (extra fields may
appear: consumers ignore what they do not know)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared import subjects as s
from shared.contracts.account import AccountFacts, AllocateReply, Charge, Purchase
from shared.contracts.engage import Link, Team, VoiceSession
from shared.contracts.engage import Role as EngageRole
from shared.contracts.identity import Extension, UserRequested
from shared.contracts.identity import Role as IdentityRole
from shared.contracts.invites import InviteEvent


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- account ------------------------------------------------------------------------
class AccountSettingsUpdated(AccountFacts):
    model_config = ConfigDict(extra="allow")
    settings: dict[str, Any]
    changed: list[str]


class AccountStatusChanged(AccountFacts):
    model_config = ConfigDict(extra="allow")
    previous_status: str


class SiteCreated(EventData):
    account_id: str
    site_id: str
    name: str
    code: str | None = None
    time_zone: str


class CostCenterCreated(EventData):
    account_id: str
    cost_center_id: str
    name: str


class InventoryAllocated(AllocateReply):
    model_config = ConfigDict(extra="allow")
    account_id: str


class InventoryReleased(EventData):
    account_id: str
    request_id: str
    licenses: dict[str, int]


class PortalCreated(EventData):
    portal_id: str
    name: str
    owner_user_id: str
    owner_account_id: str | None = None


class PortalLinked(EventData):
    portal_id: str
    account_id: str
    country: str


class PortalUnlinked(EventData):
    portal_id: str
    account_id: str


# --- identity -----------------------------------------------------------------------
class UserSnapshot(EventData):
    """A user as other services keep it; ``version`` grows with every change."""

    user_id: str
    account_id: str
    extension_id: str
    extension_number: str
    status: Literal["NotActivated", "Enabled", "Disabled"]
    first_name: str
    last_name: str
    email: str
    user_type: str
    site_id: str | None = None
    cost_center_id: str | None = None
    role: str
    job_title: str | None = None
    department: str | None = None
    regional: dict[str, Any]
    needs_emergency_location: bool
    must_change_password: bool
    version: int


class UserAdded(UserSnapshot):
    setup_option: Literal["send_invite", "schedule_invite", "assign_credentials", "activate_later"]
    request_id: str | None = None


class UserRemoved(EventData):
    user_id: str
    account_id: str
    version: int


class UserInviteRequested(EventData):
    user_id: str
    account_id: str
    email: str
    first_name: str
    last_name: str
    option: Literal["send_invite", "schedule_invite"]
    local_send_at: str | None = None
    time_zone: str | None = None
    send_at: str | None = None


class UserProvisioningFailed(EventData):
    request_id: str
    account_id: str
    code: str
    message: str
    errors: list[dict[str, Any]]


class ExtensionAssigned(EventData):
    extension_id: str
    account_id: str
    number: str
    status: str
    user_id: str


# --- engage -------------------------------------------------------------------------
class ImportProgress(EventData):
    import_id: str
    engage_account_id: str
    account_id: str
    status: Literal["queued", "running", "finished"]
    role_id: str
    team_ids: list[str]
    category_ids: list[str]
    total: int
    processed: int
    imported: int
    already_imported: int
    rejected: int
    finished_at: str | None = None


class AgentImported(EventData):
    agent_id: str
    engage_account_id: str
    account_id: str
    user_id: str
    import_id: str
    first_name: str
    last_name: str
    email: str
    username: str
    role_id: str
    team_ids: list[str]
    category_ids: list[str]
    time_zone: dict[str, Any]
    language: dict[str, Any]


# --- inbound ------------------------------------------------------------------------
class CallCompleted(EventData):
    call_id: str
    account_id: str
    user_id: str
    direction: str
    started_at: str


EVENT_DATA: dict[str, type[BaseModel]] = {
    s.ACCOUNT_CREATED: AccountFacts,
    s.ACCOUNT_SETTINGS_UPDATED: AccountSettingsUpdated,
    s.ACCOUNT_STATUS_CHANGED: AccountStatusChanged,
    s.SITE_CREATED: SiteCreated,
    s.COST_CENTER_CREATED: CostCenterCreated,
    s.INVENTORY_PURCHASED: Purchase,
    s.INVENTORY_ALLOCATED: InventoryAllocated,
    s.INVENTORY_RELEASED: InventoryReleased,
    s.CHARGE_RECORDED: Charge,
    s.PORTAL_CREATED: PortalCreated,
    s.PORTAL_LINKED: PortalLinked,
    s.PORTAL_UNLINKED: PortalUnlinked,
    s.USER_ADDED: UserAdded,
    s.USER_UPDATED: UserSnapshot,
    s.USER_ACTIVATED: UserSnapshot,
    s.USER_REMOVED: UserRemoved,
    s.USER_INVITE_REQUESTED: UserInviteRequested,
    s.USER_PROVISIONING_FAILED: UserProvisioningFailed,
    s.EXTENSION_CREATED: Extension,
    s.EXTENSION_ASSIGNED: ExtensionAssigned,
    s.ROLE_CREATED: IdentityRole,
    s.INVITE_SCHEDULED: InviteEvent,
    s.INVITE_SENT: InviteEvent,
    s.INVITE_FAILED: InviteEvent,
    s.INVITE_ACCEPTED: InviteEvent,
    s.INVITE_EXPIRED: InviteEvent,
    s.INVITE_CANCELLED: InviteEvent,
    s.ENGAGE_LINK_CREATED: Link,
    s.ENGAGE_IMPORT_STARTED: ImportProgress,
    s.ENGAGE_IMPORT_PROGRESSED: ImportProgress,
    s.ENGAGE_IMPORT_FINISHED: ImportProgress,
    s.ENGAGE_AGENT_IMPORTED: AgentImported,
    s.ENGAGE_VOICE_SIGNED_IN: VoiceSession,
    s.ENGAGE_VOICE_SIGNED_OUT: VoiceSession,
    s.ENGAGE_ROLE_CREATED: EngageRole,
    s.ENGAGE_TEAM_CREATED: Team,
    s.ENGAGE_CATEGORY_CREATED: Team,
    s.INGEST_CALL_COMPLETED: CallCompleted,
    s.INGEST_USER_REQUESTED: UserRequested,
}
