"""Account rules: defaults by country, settings that must hold together."""

from __future__ import annotations

from typing import Any

from shared.contracts.account import PLAN_USER_TYPES
from shared.errors import ValidationFailed, field_error

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
        errors.append(field_error("settings.agent_states", f"duplicate agent state names: {', '.join(dupes)}"))
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
