"""Checks of outside values by well-kept libraries: IANA zones, BCP-47 tags,
ISO 3166 countries, E.164 numbers, email syntax."""

from __future__ import annotations

import functools
import zoneinfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _countries() -> frozenset[str]:
    return frozenset(
        t for t in Locale("en").territories if isinstance(t, str) and len(t) == 2 and t.isalpha()
    )


def time_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"'{value}' is not an IANA time zone name")
    return value


def country(value: str) -> str:
    v = value.strip().upper()
    if v not in _countries() or v in ("ZZ", "XA", "XB"):
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return v


def language_tag(value: str) -> str:
    """A BCP-47 tag babel knows (``en-US``, ``fr``, ``pt-BR``); returned canonical."""
    try:
        loc = Locale.parse(value.replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError, TypeError) as exc:
        raise ValueError(f"'{value}' is not a known BCP-47 language tag") from exc
    parts = [loc.language]
    if loc.script:
        parts.append(loc.script)
    if loc.territory:
        parts.append(loc.territory)
    return "-".join(parts)


def e164(value: str, region: str | None = None) -> str:
    """A valid phone number, returned as E.164."""
    try:
        num = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"'{value}' is not a phone number") from exc
    if not phonenumbers.is_valid_number(num):
        raise ValueError(f"'{value}' is not a valid phone number")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def number_region(value: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(value, None))


def email(value: str) -> str:
    """Syntax only (no DNS); returned normalised (domain lower-cased)."""
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return info.normalized
