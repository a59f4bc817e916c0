"""identity service contract: users, extensions, roles, sign-in."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from shared.contracts import validators as v
from shared.contracts.common import Command, Id, Model, PageRequest
from shared.contracts.identity_access import (
    ChangePassword as ChangePassword,
)
from shared.contracts.identity_access import (
    ChangePin as ChangePin,
)
from shared.contracts.identity_access import (
    CompleteActivation as CompleteActivation,
)
from shared.contracts.identity_access import (
    CompleteRecovery as CompleteRecovery,
)
from shared.contracts.identity_access import (
    CreateIntegration as CreateIntegration,
)
from shared.contracts.identity_access import (
    Integration as Integration,
)
from shared.contracts.identity_access import (
    IntegrationPage as IntegrationPage,
)
from shared.contracts.identity_access import (
    ListIntegrations as ListIntegrations,
)
from shared.contracts.identity_access import (
    Login as Login,
)
from shared.contracts.identity_access import (
    Mint as Mint,
)
from shared.contracts.identity_access import (
    RevokeIntegration as RevokeIntegration,
)
from shared.contracts.identity_access import (
    Session as Session,
)
from shared.contracts.identity_access import (
    StartRecovery as StartRecovery,
)
from shared.contracts.identity_fields import (
    CallRecording as CallRecording,
)
from shared.contracts.identity_fields import (
    Country as Country,
)
from shared.contracts.identity_fields import (
    Email as Email,
)
from shared.contracts.identity_fields import (
    ExtensionNumber as ExtensionNumber,
)
from shared.contracts.identity_fields import (
    ExtensionStatus as ExtensionStatus,
)
from shared.contracts.identity_fields import (
    LanguageTag as LanguageTag,
)
from shared.contracts.identity_fields import (
    LicenseChoice as LicenseChoice,
)
from shared.contracts.identity_fields import (
    LocalPhone as LocalPhone,
)
from shared.contracts.identity_fields import (
    Password as Password,
)
from shared.contracts.identity_fields import (
    PersonName as PersonName,
)
from shared.contracts.identity_fields import (
    Phone as Phone,
)
from shared.contracts.identity_fields import (
    ShortText as ShortText,
)
from shared.contracts.identity_fields import (
    TimeZone as TimeZone,
)
from shared.contracts.identity_fields import (
    UserStatus as UserStatus,
)
from shared.contracts.identity_fields import (
    UserType as UserType,
)


class Regional(Command):
    """Each missing field is inherited from the account's defaults."""

    language: LanguageTag | None = None
    greeting_language: LanguageTag | None = None
    regional_format: LanguageTag | None = None
    time_zone: TimeZone | None = None


class Address(Command):
    name: ShortText | None = None
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText
    region: ShortText | None = None
    postal_code: Annotated[
        str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)
    ]
    country: Country


class PhoneChoice(Command):
    """``none`` (softphone app only), a device from ``inventory`` (device_id) or a
    ``purchase`` (model; ships to the entry's shipping_address)."""

    source: Literal["none", "inventory", "purchase"] = "none"
    device_id: Id | None = None
    model: ShortText | None = None

    @model_validator(mode="after")
    def _shape(self) -> PhoneChoice:
        if self.source == "inventory" and not self.device_id:
            raise ValueError("device_id is required for a phone from inventory")
        if self.source == "purchase" and not self.model:
            raise ValueError("model is required for a purchased phone")
        return self


class NumberChoice(Command):
    """A direct number from ``inventory`` (number, E.164) or a new ``purchase`` (area_code?)."""

    source: Literal["inventory", "purchase"]
    number: LocalPhone | None = None
    area_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,5}$")] | None = None

    @model_validator(mode="after")
    def _shape(self) -> NumberChoice:
        if self.source == "inventory" and not self.number:
            raise ValueError("number is required for a number from inventory")
        return self


class SendInvite(Command):
    option: Literal["send_invite"]


class ScheduleInvite(Command):
    option: Literal["schedule_invite"]
    send_at: Annotated[str, Field(min_length=16, max_length=19)]
    time_zone: TimeZone


PasswordHash = Annotated[str, Field(max_length=512), AfterValidator(v.password_hash)]
SECRET_FIELDS = ("password", "pin", "security_answer")
"""Plaintext secrets: accepted only in the request/reply that sets them, never on ingest."""


class AssignCredentials(Command):
    """Either ``password`` (with ``pin``, ``security_question`` and ``security_answer``,
    all required) or ``password_hash``: a PHC string (argon2id or bcrypt) exported by
    another identity system, kept as is and verified at sign-in (``pin`` and the
    security question optional). Directory requests (ingest) take only the hash."""

    option: Literal["assign_credentials"]
    password: Password | None = None
    password_hash: PasswordHash | None = None
    temporary_password: bool = True
    pin: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    security_question: (
        Annotated[str, StringConstraints(min_length=3, max_length=200, strip_whitespace=True)]
        | None
    ) = None
    security_answer: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_password(self) -> AssignCredentials:
        if (self.password is None) == (self.password_hash is None):
            raise ValueError("give exactly one of password and password_hash")
        if self.password is not None:
            missing = [
                f
                for f in ("pin", "security_question", "security_answer")
                if getattr(self, f) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} required with a password")
        if (self.security_question is None) != (self.security_answer is None):
            raise ValueError("security_question and security_answer go together")
        return self


class ActivateLater(Command):
    option: Literal["activate_later"]


Setup = Annotated[
    SendInvite | ScheduleInvite | AssignCredentials | ActivateLater, Field(discriminator="option")
]


class UserEntry(Command):
    first_name: PersonName
    last_name: PersonName
    email: Email
    user_type: UserType
    extension_number: ExtensionNumber | None = None
    site_id: Id | None = None
    cost_center_id: Id | None = None
    contact_phone: LocalPhone | None = None
    mobile_phone: LocalPhone | None = None
    job_title: ShortText | None = None
    department: ShortText | None = None
    role: ShortText | None = None
    regional: Regional | None = None
    call_recording: CallRecording = "off"
    emergency_location: Address | None = None
    phone: PhoneChoice | None = None
    phone_number: NumberChoice | None = None
    shipping_address: Address | None = None
    license: LicenseChoice | None = None
    """``purchase``: buy the license of a licensed type with this entry (needs
    ``acknowledge_charges`` and the purchase permission); else one from inventory."""
    setup: Setup


class AddUsers(Command):
    """``users`` entries are validated one by one (as :class:`UserEntry`) so that the
    reply names every problem of every entry; more than 25 is ``limit_exceeded``."""

    account_id: Id
    users: list[dict[str, Any]] = Field(min_length=1, max_length=500)
    acknowledge_charges: bool = False


class GetUser(Command):
    account_id: Id
    user_id: Id


class ListUsers(PageRequest):
    account_id: Id
    query: Annotated[str, Field(max_length=120)] | None = None
    status: UserStatus | None = None


class UserChanges(Command):
    """Only the fields given change. ``email``, ``user_type``, ``extension_number``,
    ``phone`` and ``phone_number`` follow the rules of ``users.add``; what the user held
    before goes back to inventory (``released`` on ``user.updated``). ``phone_number:
    null`` gives the number back; ``phone: {"source": "none"}`` gives the desk phone back."""

    first_name: PersonName | None = None
    last_name: PersonName | None = None
    email: Email | None = None
    user_type: UserType | None = None
    license: LicenseChoice | None = None
    extension_number: ExtensionNumber | None = None
    phone: PhoneChoice | None = None
    phone_number: NumberChoice | None = None
    shipping_address: Address | None = None
    emergency_location: Address | None = None
    site_id: Id | None = None
    cost_center_id: Id | None = None
    contact_phone: LocalPhone | None = None
    mobile_phone: LocalPhone | None = None
    job_title: ShortText | None = None
    department: ShortText | None = None
    role: ShortText | None = None
    regional: Regional | None = None
    call_recording: CallRecording | None = None
    status: Literal["Enabled", "Disabled"] | None = None


class UpdateUser(Command):
    account_id: Id
    user_id: Id
    fields: UserChanges
    acknowledge_charges: bool = False


class SetEmergencyLocation(Command):
    account_id: Id
    user_id: Id
    location: Address


class AssignUserCredentials(Command):
    """Activate a NotActivated user by credentials (after "activate later")."""

    account_id: Id
    user_id: Id
    password: Password
    temporary_password: bool = True
    pin: Annotated[str, Field(min_length=1, max_length=32)]
    security_question: Annotated[
        str, StringConstraints(min_length=3, max_length=200, strip_whitespace=True)
    ]
    security_answer: Annotated[str, Field(min_length=1, max_length=200)]


class UserFactsQuery(Command):
    """(internal) The current snapshots of users a consumer has not heard of yet."""

    account_id: Id
    user_ids: list[Id] = Field(min_length=1, max_length=500)


class UserFacts(Model):
    """The snapshot each user's events carry (docs/internal-contract.md "Events"), for
    those of the asked users that exist in the asked account; the others are absent."""

    users: list[dict[str, Any]]


class RemoveUser(Command):
    """Remove a user: its sessions end, its extension goes back to Unassigned (or is
    deleted with ``delete_extension``), its email is free again."""

    account_id: Id
    user_id: Id
    delete_extension: bool = False


class ResetUserCredentials(Command):
    """An administrator resets an activated user's password (temporary by default)
    and/or PIN; every session of the user ends."""

    account_id: Id
    user_id: Id
    password: Password | None = None
    temporary_password: bool = True
    pin: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class InviteInfo(Model):
    invite_id: str
    status: str
    send_at: str | None = None


class RoleRef(Model):
    id: str
    name: str


class User(Model):
    id: str
    account_id: str
    extension_id: str
    extension_number: str
    status: str
    first_name: str
    last_name: str
    email: str
    user_type: str
    site_id: str | None = None
    cost_center_id: str | None = None
    contact_phone: str | None = None
    mobile_phone: str | None = None
    job_title: str | None = None
    department: str | None = None
    role: str
    role_id: str
    regional: dict[str, Any]
    call_recording: str
    emergency_location: dict[str, Any] | None = None
    phone: dict[str, Any] | None = None
    phone_number: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None
    setup_option: str
    must_change_password: bool
    needs_emergency_location: bool
    calling_blocked: bool = False
    """A user of a calling type without an emergency location: calling is blocked
    until the location is set (the telephony platform reads this)."""
    invite: InviteInfo | None = None
    version: int
    created_at: Any = None


class UserList(Model):
    users: list[User]


class UserPage(Model):
    items: list[User]
    next_cursor: str | None = None


class CreateExtension(Command):
    account_id: Id
    number: ExtensionNumber | None = None


class ListExtensions(PageRequest):
    account_id: Id
    status: ExtensionStatus | None = None


class AssignExtension(Command):
    account_id: Id
    extension_id: Id
    user: dict[str, Any]
    acknowledge_charges: bool = False


class Extension(Model):
    id: str
    account_id: str
    number: str
    status: str
    user_id: str | None = None
    created_at: Any = None


class RemoveExtension(Command):
    """Delete an Unassigned extension (one with a user is a ``conflict``)."""

    account_id: Id
    extension_id: Id


class ExtensionPage(Model):
    items: list[Extension]
    next_cursor: str | None = None


class CheckEmail(Command):
    email: Email


class EmailAvailability(Model):
    email: str
    available: bool


class ListRoles(Command):
    account_id: Id


class CreateRole(Command):
    account_id: Id
    name: ShortText
    permissions: list[Annotated[str, Field(max_length=40)]] = Field(max_length=32)
    international_calling: bool = False


class SetDefaultRole(Command):
    """The account's default role: what a new user gets when its entry names none."""

    account_id: Id
    role: ShortText


class Role(Model):
    id: str
    account_id: str | None
    name: str
    permissions: list[str]
    international_calling: bool
    predefined: bool
    default: bool = False


class RoleList(Model):
    items: list[Role]


class UserRequested(Model):
    """``ingest.directory.user.requested``: one user entry, provisioned asynchronously,
    checked as ``users.add`` by the principal of its ``Authorization`` header would be."""

    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    account_id: Id
    user: dict[str, Any]
    acknowledge_charges: bool = False
