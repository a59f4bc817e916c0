"""The identity aggregates as typed objects: the account as identity knows it (its
plan's user types, email uniqueness, extension numbers, sites, regional defaults) and
a user's credentials (password policy, PIN rules, security answer). Pure: no I/O;
built from repository rows. The rules of DOMAIN.md each have one home here or in
:mod:`identity.domain` (roles, the 25-user limit, the scheduling horizon)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from identity.domain import (
    answer_problems,
    extension_problem,
    extension_range,
    password_problems,
    pin_problems,
)

EMAIL_TAKEN_HERE = "already belongs to a user of this account"
EMAIL_TAKEN_ELSEWHERE = "already belongs to a user (emails are unique across accounts)"


@dataclass(frozen=True)
class Plan:
    """An account's plan, as far as identity is concerned: the user types it allows."""

    name: str
    user_types: frozenset[str]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Plan:
        facts: Mapping[str, Any] = row.get("facts") or {}
        return cls(row["plan"], frozenset(facts.get("user_types", [])))

    def user_type_problem(self, user_type: str) -> str | None:
        """Plan -> user types (DOMAIN.md 1): the plan decides which types it allows."""
        if user_type not in self.user_types:
            return f"the '{self.name}' plan does not allow '{user_type}' users"
        return None


@dataclass(frozen=True)
class Account:
    """An account as identity keeps it, from the account service's events."""

    account_id: str
    plan: Plan
    status: str
    multi_site: bool
    extension_length: int
    require_unique_email: bool
    default_role_id: str | None
    country: str | None
    default_language: str | None
    regional_format: str | None
    default_time_zone: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Account:
        facts: Mapping[str, Any] = row.get("facts") or {}
        return cls(
            account_id=row["account_id"],
            plan=Plan.from_row(row),
            status=row["status"],
            multi_site=bool(row["multi_site"]),
            extension_length=int(row["extension_length"]),
            require_unique_email=bool(row["require_unique_email"]),
            default_role_id=row.get("default_role_id"),
            country=facts.get("country"),
            default_language=facts.get("default_language"),
            regional_format=facts.get("regional_format"),
            default_time_zone=facts.get("default_time_zone"),
        )

    @property
    def active(self) -> bool:
        return self.status == "Active"

    def email_problem(self, email: str, holders: Iterable[Mapping[str, Any]]) -> str | None:
        """Email uniqueness (DOMAIN.md 3): one user per email in an account; across all
        accounts when this account (or the holder's) requires unique emails.
        ``holders``: the users holding emails (lower case), with their account."""
        key = email.lower()
        for holder in holders:
            if holder["email"] != key:
                continue
            if holder["account_id"] == self.account_id:
                return EMAIL_TAKEN_HERE
            if self.require_unique_email or holder["exclusive_email"]:
                return EMAIL_TAKEN_ELSEWHERE
        return None

    @property
    def invitations_allowed(self) -> bool:
        """Invitations by email need ``require_unique_email``: an email then names one
        user, so its invitation cannot reach someone else's."""
        return self.require_unique_email

    def site_problem(self, site_id: str, known: Mapping[str, str | None]) -> str | None:
        if not self.multi_site:
            return "sites exist only on multi-site accounts"
        if site_id not in known:
            return "no such site in this account"
        return None

    def extension_problem(self, number: str) -> str | None:
        return extension_problem(number, self.extension_length)

    def extension_range(self) -> tuple[int, int]:
        return extension_range(self.extension_length)

    def regional(
        self, given: Mapping[str, str | None], site_time_zone: str | None
    ) -> dict[str, str]:
        """A new user's regional settings: each one given, else the account's default
        (the time zone: the site's, then the account's)."""
        language = given.get("language") or self.default_language or "en-US"
        return {
            "language": language,
            "greeting_language": given.get("greeting_language") or language,
            "regional_format": given.get("regional_format") or self.regional_format or language,
            "time_zone": given.get("time_zone")
            or site_time_zone
            or self.default_time_zone
            or "UTC",
        }


@dataclass(frozen=True)
class Credentials:
    """What a user signs in with (DOMAIN.md 3): a password (policy of
    :func:`identity.domain.password_problems`), a voicemail PIN (the PIN rules of
    :func:`identity.domain.pin_problems`, never the user's extension number) and a
    security answer."""

    password: str | None = None
    pin: str | None = None
    security_answer: str | None = None

    def problems(
        self,
        *,
        first_name: str,
        last_name: str,
        email: str,
        extension_number: str | None = None,
        prefix: str = "",
    ) -> list[tuple[str, str]]:
        """(field, message) of every problem, password first, then PIN, then answer."""
        found: list[tuple[str, str]] = []
        if self.password is not None:
            found += [
                (prefix + "password", m)
                for m in password_problems(
                    self.password, first_name=first_name, last_name=last_name, email=email
                )
            ]
        if self.pin is not None:
            found += [(prefix + "pin", m) for m in pin_problems(self.pin, extension_number)]
        if self.security_answer is not None:
            found += [
                (prefix + "security_answer", m) for m in answer_problems(self.security_answer)
            ]
        return found
