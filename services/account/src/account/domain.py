"""Account rules: defaults by country, settings that must hold together."""

from __future__ import annotations

import hashlib
import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
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


def require_open(account: dict[str, Any]) -> None:
    if account["status"] == "Closed":
        raise Conflict("The account is closed.", {"account_id": account["id"], "status": "Closed"})


def require_can_buy(account: dict[str, Any]) -> None:
    if account["status"] != "Active":
        raise Conflict(
            f"An account that is {account['status']} cannot buy inventory.",
            {"account_id": account["id"], "status": account["status"]},
        )


# --- price list ----------------------------------------------------------------

CURRENCY_BY_COUNTRY: dict[str, str] = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "AU": "AUD",
    "FR": "EUR",
    "DE": "EUR",
    "IE": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
}

LICENSED_USER_TYPES: tuple[str, ...] = ("standard", "video_pro_plus")
"""User types that take one license of their type; ``mobile`` and ``free`` take none."""

DEVICE_MODELS: tuple[str, ...] = ("Poly VVX 450", "Yealink T54W", "Cisco 8851", "Yealink W73P")

# Monthly or one-off prices in minor units (cents, pence) per currency.
PRICE_LIST: dict[str, dict[str, int]] = {
    "USD": {
        "license:standard": 3000,
        "license:video_pro_plus": 1500,
        "number": 500,
        "device:Poly VVX 450": 19900,
        "device:Yealink T54W": 17900,
        "device:Cisco 8851": 24900,
        "device:Yealink W73P": 12900,
        "free_user_overage": 3000,
    },
    "GBP": {
        "license:standard": 2500,
        "license:video_pro_plus": 1200,
        "number": 400,
        "device:Poly VVX 450": 16900,
        "device:Yealink T54W": 14900,
        "device:Cisco 8851": 20900,
        "device:Yealink W73P": 10900,
        "free_user_overage": 2500,
    },
    "EUR": {
        "license:standard": 2800,
        "license:video_pro_plus": 1400,
        "number": 450,
        "device:Poly VVX 450": 18900,
        "device:Yealink T54W": 16900,
        "device:Cisco 8851": 22900,
        "device:Yealink W73P": 11900,
        "free_user_overage": 2800,
    },
    "CAD": {
        "license:standard": 4000,
        "license:video_pro_plus": 2000,
        "number": 700,
        "device:Poly VVX 450": 26900,
        "device:Yealink T54W": 23900,
        "device:Cisco 8851": 32900,
        "device:Yealink W73P": 16900,
        "free_user_overage": 4000,
    },
    "AUD": {
        "license:standard": 4500,
        "license:video_pro_plus": 2200,
        "number": 800,
        "device:Poly VVX 450": 29900,
        "device:Yealink T54W": 26900,
        "device:Cisco 8851": 36900,
        "device:Yealink W73P": 18900,
        "free_user_overage": 4500,
    },
}


def currency_for(country: str) -> str:
    return CURRENCY_BY_COUNTRY.get(country, "USD")


def price(country: str, item: str) -> tuple[int, str]:
    """(unit price in minor units, currency) of a price-list item for an account's country."""
    cur = currency_for(country)
    return PRICE_LIST[cur][item], cur


def money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def license_item(user_type: str) -> str:
    return f"license:{user_type}"


def device_item(model: str) -> str:
    return f"device:{model}"


def canonical_model(model: str) -> str | None:
    folded = model.strip().casefold()
    for m in DEVICE_MODELS:
        if m.casefold() == folded:
            return m
    return None


# --- phone numbers -------------------------------------------------------------


def number_candidates(
    country: str, count: int, area_code: str | None, rng: random.Random | None = None
) -> list[str]:
    """Up to ``count`` distinct valid E.164 numbers of ``country`` (geographic when the
    country has them), starting with ``area_code`` when given. Uniqueness across
    accounts is the database's job (primary key); callers retry on collisions."""
    rng = rng or random.SystemRandom()
    example = phonenumbers.example_number_for_type(
        country, phonenumbers.PhoneNumberType.FIXED_LINE
    ) or phonenumbers.example_number(country)
    if example is None:
        raise ValidationFailed.single("country", f"No phone numbers can be issued for {country}.")
    nsn = phonenumbers.national_significant_number(example)
    prefix = area_code if area_code is not None else nsn[:2]
    length = len(nsn)
    if len(prefix) >= length:
        raise ValidationFailed.single(
            "area_code", f"'{area_code}' is not an area code of {country}."
        )
    found: dict[str, None] = {}
    attempts = 0
    while len(found) < count and attempts < 400 + count * 200:
        attempts += 1
        rest = "".join(rng.choice("0123456789") for _ in range(length - len(prefix)))
        try:
            num = phonenumbers.parse(prefix + rest, country)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(num, country):
            found[phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)] = None
    if len(found) < count:
        field = "area_code" if area_code is not None else "country"
        raise ValidationFailed.single(
            field, f"No valid {country} numbers could be issued for area code {area_code!r}."
        )
    return list(found)


def number_matches(number: str, country: str, area_code: str | None) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number_for_region(parsed, country):
        return False
    return area_code is None or phonenumbers.national_significant_number(parsed).startswith(
        area_code
    )


# --- free-user metering --------------------------------------------------------

FREE_CALLS_PER_CYCLE = 10


def billing_cycle(started_at: datetime, time_zone: str) -> str:
    """The calendar month (``YYYY-MM``) of the call in the account's default time zone."""
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    local = started_at.astimezone(ZoneInfo(time_zone))
    return f"{local.year:04d}-{local.month:02d}"


def overage_due(calls: int, user_type: str | None) -> bool:
    """A free user with more than 10 calls in a cycle costs one extra user that month."""
    return user_type == "free" and calls > FREE_CALLS_PER_CYCLE


# --- portals -------------------------------------------------------------------

LINK_CODE_TTL = timedelta(minutes=15)


def new_link_code() -> str:
    return secrets.token_urlsafe(24)


def hash_link_code(code: str) -> str:
    """Link codes are 192-bit random: a plain SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


PENDING_INVITE_STATUSES: frozenset[str] = frozenset({"Scheduled", "Sent"})


def service_status(status: str, users: int, pending_invites: int) -> str:
    """One word for the portal overview, from what the account service knows."""
    if status == "Closed":
        return "closed"
    if status == "Suspended":
        return "suspended"
    if users == 0:
        return "not_set_up"
    if pending_invites > 0:
        return "onboarding"
    return "operational"


def e164_prefix(country: str, area_code: str | None) -> str | None:
    """The E.164 start of numbers in an area code (``+1415``), or None for any."""
    if not area_code:
        return None
    return f"+{phonenumbers.country_code_for_region(country)}{area_code}"
