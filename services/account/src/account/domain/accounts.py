"""Accounts (DOMAIN.md section 1): defaults by country, settings that must hold
together, the plan catalogue (plan -> user types), statuses, and the Account aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contracts.account import PLAN_USER_TYPES
from shared.errors import Conflict, ValidationFailed, field_error

COUNTRY_DEFAULTS: dict[str, tuple[str, str]] = {
    "US": ("America/New_York", "en-US"),
    "GB": ("Europe/London", "en-GB"),
    "CA": ("America/Toronto", "en-CA"),
    "AU": ("Australia/Sydney", "en-AU"),
    "FR": ("Europe/Paris", "fr-FR"),
    "DE": ("Europe/Berlin", "de-DE"),
}

DEFAULT_AGENT_STATES: list[dict[str, Any]] = [
    {"name": "Available", "counts_as_available": True},
    {"name": "Break", "counts_as_available": False},
    {"name": "Lunch", "counts_as_available": False},
    {"name": "Training", "counts_as_available": False},
]


def default_settings(country: str) -> dict[str, Any]:
    zone, lang = COUNTRY_DEFAULTS.get(country, ("UTC", "en-US"))
    return {
        "international_calling": False,
        "wfm_integrations": [],
        "agent_states": [dict(s) for s in DEFAULT_AGENT_STATES],
        "default_time_zone": zone,
        "default_language": lang,
        "regional_format": lang,
        "require_unique_email": True,
    }


def merge_settings(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a partial update and validate the whole result."""
    merged = dict(current)
    for key, value in patch.items():
        if value is not None:
            merged[key] = value
    check_settings(merged)
    return merged


def check_settings(settings: dict[str, Any]) -> None:
    errors = []
    states = settings.get("agent_states") or []
    names = [str(s["name"]).strip().casefold() for s in states]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        errors.append(
            field_error("settings.agent_states", f"duplicate agent state names: {', '.join(dupes)}")
        )
    if not any(s.get("counts_as_available") for s in states):
        errors.append(
            field_error("settings.agent_states", "at least one agent state must count as available")
        )
    vendors = [str(w["vendor"]).strip().casefold() for w in settings.get("wfm_integrations") or []]
    if len(vendors) != len(set(vendors)):
        errors.append(field_error("settings.wfm_integrations", "one integration per vendor"))
    if errors:
        raise ValidationFailed("The account settings are not valid.", errors)


def user_types_for(plan: str) -> list[str]:
    return list(PLAN_USER_TYPES[plan])


# --- plans -------------------------------------------------------------------

PLAN_CATALOGUE: dict[str, dict[str, str]] = {
    "core": {
        "name": "Core",
        "description": "Calling, messaging and video meetings; no Video Pro+ meeting licenses.",
    },
    "advanced": {
        "name": "Advanced",
        "description": "Core plus Video Pro+ meeting licenses, call recording and integrations.",
    },
    "ultra": {
        "name": "Ultra",
        "description": "Advanced plus unlimited storage and analytics.",
    },
}


def plan_allows(plan: str, user_type: str) -> bool:
    return user_type in PLAN_USER_TYPES.get(plan, ())


# --- statuses ----------------------------------------------------------------


def check_status_change(current: str, new: str, reason: str | None) -> None:
    """Closed is final; Suspended and Closed need a reason (support has to say why)."""
    if current == "Closed" and new != "Closed":
        raise Conflict("A closed account cannot be reopened.", {"status": current})
    if new in ("Suspended", "Closed") and not (reason and reason.strip()):
        raise ValidationFailed.single("reason", f"A reason is required to set status {new}.")


@dataclass(frozen=True, slots=True)
class Account:
    """One business, the top of everything (DOMAIN.md section 1): what repositories
    return and the rules that hang on an account."""

    id: str
    name: str
    country: str
    plan: str
    status: str
    multi_site: bool
    extension_length: int
    settings: dict[str, Any]
    status_reason: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def default_time_zone(self) -> str:
        return str(self.settings["default_time_zone"])

    def allows(self, user_type: str) -> bool:
        """The plan decides which user types may be added."""
        return plan_allows(self.plan, user_type)

    def require_open(self) -> None:
        """A closed account refuses every change."""
        if self.status == "Closed":
            raise Conflict("The account is closed.", {"account_id": self.id, "status": "Closed"})

    def require_multi_site(self, what: str) -> None:
        """Sites and cost centers exist only on multi-site accounts (DOMAIN.md 1, 6)."""
        if not self.multi_site:
            raise Conflict(
                f"{what} exist only on multi-site accounts; this account is single-site.",
                {"account_id": self.id, "multi_site": False},
            )

    def require_can_buy(self) -> None:
        """Only an Active account buys inventory."""
        if self.status != "Active":
            raise Conflict(
                f"An account that is {self.status} cannot buy inventory.",
                {"account_id": self.id, "status": self.status},
            )

    def settings_after(self, patch: dict[str, Any]) -> dict[str, Any] | None:
        """The whole settings after a partial change, validated; None when unchanged."""
        merged = merge_settings(self.settings, patch)
        return None if merged == self.settings else merged

    def status_after(self, new: str, reason: str | None) -> str | None:
        """The reason kept with ``new`` status; raises when the change is not allowed.
        Returns the current reason unchanged when nothing would change (callers compare)."""
        check_status_change(self.status, new, reason)
        return reason.strip() if reason and new != "Active" else None


@dataclass(frozen=True, slots=True)
class Site:
    """A location of a multi-site account. Its users take its time zone unless given
    one; a site with users cannot be removed (DOMAIN.md section 6)."""

    id: str
    account_id: str
    name: str
    time_zone: str
    code: str | None = None
    created_at: datetime | None = None

    def changes(self, asked: dict[str, Any]) -> dict[str, Any]:
        """What a partial update changes: given (not None) and different."""
        return {k: v for k, v in asked.items() if v is not None and v != getattr(self, k)}

    def facts(self) -> dict[str, Any]:
        """The site as its events carry it (``site_id``, not ``id``)."""
        return {
            "account_id": self.account_id,
            "site_id": self.id,
            "name": self.name,
            "code": self.code,
            "time_zone": self.time_zone,
        }


def require_no_users_on(site: Site, users: int) -> None:
    """A site with users cannot be removed: the refusal says how many there are."""
    if users:
        raise Conflict(
            f"The site has {users} user{'s' if users != 1 else ''}; "
            "move or remove them before removing the site.",
            {"site_id": site.id, "users": users},
        )
