"""identity service contract: users, extensions, roles, sign-in."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.contracts.common import Command, Id, Model

Password = Annotated[str, Field(min_length=1, max_length=256)]


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


class ChangePassword(Command):
    current_password: Password
    new_password: Password


class Mint(Command):
    """Service-to-service: a session for a portal switch (account service only)."""

    account_id: Id
    user_id: Id
    portal_id: Id | None = None
