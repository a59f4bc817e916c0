"""identity service contract, access: sign-in and sessions, activation, portal
switch, integrations, PIN change and self-service recovery (re-exported by
shared.contracts.identity)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from shared.contracts.common import Command, Id, Model, PageRequest
from shared.contracts.identity_fields import (
    Password,
    ShortText,
)


class Login(Command):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    password: Password
    account_id: Id | None = None


class Session(Model):
    token: str
    expires_at: str
    account_id: str | None
    user_id: str
    must_change_password: bool = False
    needs_emergency_location: bool = False
    operator: bool = False
    permissions: list[str] = Field(default_factory=list)
    portal_id: str | None = None


class ChangePassword(Command):
    current_password: Password
    new_password: Password


class CompleteActivation(Command):
    token: Annotated[str, Field(min_length=1, max_length=512)]
    password: Password


class Mint(Command):
    """Service-to-service: a session for a portal switch (account service only)."""

    account_id: Id
    user_id: Id
    portal_id: Id | None = None


# --- integrations: other systems' credentials for directory requests ----------------


class CreateIntegration(Command):
    account_id: Id
    name: ShortText
    role: ShortText


class ListIntegrations(PageRequest):
    account_id: Id


class RevokeIntegration(Command):
    account_id: Id
    integration_id: Id


class Integration(Model):
    """An integration: ``token`` only in the reply to ``integrations.create`` (shown
    once; identity keeps its SHA-256 only). ``token_prefix`` identifies it later."""

    id: str
    account_id: str
    name: str
    role: str
    role_id: str
    token_prefix: str
    created_by: str
    created_at: Any = None
    revoked_at: Any = None
    token: str | None = None


class IntegrationPage(Model):
    items: list[Integration]
    next_cursor: str | None = None


# --- credentials: PIN change and self-service recovery (DOMAIN.md section 6) ----------


class ChangePin(Command):
    """The caller's own voicemail PIN; ``current_pin`` is required when one is set."""

    current_pin: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    new_pin: Annotated[str, Field(min_length=1, max_length=32)]


class StartRecovery(Command):
    """Public: always answered ``ok``; a recovery email goes out when an activated,
    enabled user of an active account has this email (in ``account_id`` if given)."""

    email: Annotated[str, Field(min_length=3, max_length=320)]
    account_id: Id | None = None


class CompleteRecovery(Command):
    """Public: the emailed link's token, the new password and, when the user has a
    security question, its answer."""

    token: Annotated[str, Field(min_length=1, max_length=512)]
    password: Password
    security_answer: Annotated[str, Field(min_length=1, max_length=200)] | None = None
