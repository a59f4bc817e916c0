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


class SiteUpdated(EventData):
    """``events.account.site.updated``: the whole site after a ``sites.update``;
    ``changed`` names the fields that changed (``name``, ``code``, ``time_zone``).
    Consumers keeping sites replace their copy with these fields (key: ``site_id``);
    users on the site who have no time zone of their own follow ``time_zone``."""

    account_id: str
    site_id: str
    name: str
    code: str | None = None
    time_zone: str
    changed: list[str]


class SiteRemoved(EventData):
    """``events.account.site.removed``: the site is gone (it had no users left, as far
    as the account service knew from identity's user events). Consumers drop it and
    refuse new users on it."""

    account_id: str
    site_id: str
    name: str


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


class InventoryReturned(EventData):
    """``events.account.inventory.returned``: what a removed or changed user gave back
    (the ``released`` field of identity's ``user.removed``/``user.updated``), once per
    identity event (``event_id``). ``license`` is the user type whose license went back
    to the free pool (null when none did), ``number``/``device_id`` what became
    available again (null when none did)."""

    account_id: str
    user_id: str
    event_id: str
    license: str | None = None
    number: str | None = None
    device_id: str | None = None


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
    calling_blocked: bool = False
    """A calling type without an emergency location: the telephony platform blocks
    its calls until the location is set (never true for types that make no calls)."""
    must_change_password: bool
    version: int


class Released(BaseModel):
    """What a user held that goes back to the account's inventory: the license of
    ``license`` (a user type), the phone ``number`` (E.164), the desk phone
    ``device_id``; null where nothing of that kind goes back. The account service
    frees these items when it consumes the event."""

    model_config = ConfigDict(extra="allow")
    license: str | None = None
    number: str | None = None
    device_id: str | None = None


class UserUpdated(UserSnapshot):
    """``released``: what the change gave back to inventory (the old license on a type
    change, the old number and desk phone on a change or when the new type makes no
    calls); all null when nothing went back (absent on older events)."""

    released: Released = Released()


class UserAdded(UserSnapshot):
    setup_option: Literal["send_invite", "schedule_invite", "assign_credentials", "activate_later"]
    request_id: str | None = None


class UserRemoved(EventData):
    """``released``: the license, number and desk phone the user held, all going back
    to inventory (null where the user held none)."""

    user_id: str
    account_id: str
    version: int
    released: Released = Released()


class DefaultRoleSet(EventData):
    account_id: str
    role_id: str
    role: str


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


class RecoveryRequested(EventData):
    """A user asked to recover its password (``identity.v1.recovery.start``): the
    invite-scheduler mails the link. No secret: the token is made by the mailer."""

    recovery_id: str
    user_id: str
    account_id: str
    email: str
    first_name: str
    last_name: str
    language: str | None = None
    time_zone: str | None = None


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


class AgentFields(EventData):
    """An agent as its events carry it."""

    agent_id: str
    engage_account_id: str
    account_id: str
    user_id: str
    first_name: str
    last_name: str
    email: str
    username: str
    role_id: str
    team_ids: list[str]
    category_ids: list[str]
    time_zone: dict[str, Any]
    language: dict[str, Any]


class AgentImported(AgentFields):
    import_id: str


class AgentUpdated(AgentFields):
    """An agent after a change: by an Engage administrator (role, teams, categories)
    or following its phone-system user (names, email, time zone, language, status)."""

    status: Literal["Enabled", "Disabled"]
    changed: list[str]
    cause: Literal["admin", "phone_system"]


class AgentRemoved(EventData):
    agent_id: str
    engage_account_id: str
    account_id: str
    user_id: str
    username: str
    email: str
    cause: Literal["admin", "phone_system"]


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
    s.SITE_UPDATED: SiteUpdated,
    s.SITE_REMOVED: SiteRemoved,
    s.COST_CENTER_CREATED: CostCenterCreated,
    s.INVENTORY_PURCHASED: Purchase,
    s.INVENTORY_ALLOCATED: InventoryAllocated,
    s.INVENTORY_RELEASED: InventoryReleased,
    s.INVENTORY_RETURNED: InventoryReturned,
    s.CHARGE_RECORDED: Charge,
    s.PORTAL_CREATED: PortalCreated,
    s.PORTAL_LINKED: PortalLinked,
    s.PORTAL_UNLINKED: PortalUnlinked,
    s.USER_ADDED: UserAdded,
    s.USER_UPDATED: UserUpdated,
    s.USER_ACTIVATED: UserSnapshot,
    s.USER_REMOVED: UserRemoved,
    s.USER_INVITE_REQUESTED: UserInviteRequested,
    s.USER_PROVISIONING_FAILED: UserProvisioningFailed,
    s.RECOVERY_REQUESTED: RecoveryRequested,
    s.EXTENSION_CREATED: Extension,
    s.EXTENSION_ASSIGNED: ExtensionAssigned,
    s.EXTENSION_REMOVED: Extension,
    s.ROLE_DEFAULT_SET: DefaultRoleSet,
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
    s.ENGAGE_AGENT_UPDATED: AgentUpdated,
    s.ENGAGE_AGENT_REMOVED: AgentRemoved,
    s.ENGAGE_VOICE_SIGNED_IN: VoiceSession,
    s.ENGAGE_VOICE_SIGNED_OUT: VoiceSession,
    s.ENGAGE_ROLE_CREATED: EngageRole,
    s.ENGAGE_TEAM_CREATED: Team,
    s.ENGAGE_CATEGORY_CREATED: Team,
    s.INGEST_CALL_COMPLETED: CallCompleted,
    s.INGEST_USER_REQUESTED: UserRequested,
}
