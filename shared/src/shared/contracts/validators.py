"""Checks of outside values by well-kept libraries: IANA zones, BCP-47 tags,
ISO 3166 countries, E.164 numbers, email syntax."""

from __future__ import annotations

import functools
import re
import zoneinfo

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
)


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


_PHONE_INPUT = re.compile(r"^\+?[0-9 ()./-]{3,40}$")


def phone_input(value: str) -> str:
    """A phone number as a person types it: E.164 (``+16175550199``, checked and
    returned canonical at once) or a local format (``(617) 555-0199``), whose syntax
    only is checked here; the service parses it with the account's country."""
    v = value.strip()
    if v.startswith("+"):
        return e164(v)
    if not _PHONE_INPUT.match(v) or sum(ch.isdigit() for ch in v) < 3:
        raise ValueError(f"'{value}' is not a phone number")
    return v


def number_region(value: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(value, None))


def email(value: str) -> str:
    """Syntax only (no DNS); returned normalised (domain lower-cased).

    The common shape (ASCII, a plain dot-atom before the @-sign, not a role mailbox
    like ``postmaster``) takes a shortcut with the same answer: its domain is checked
    once per domain (the costly part, IDNA rules per character), the rest as
    email-validator checks it. Anything else, and every invalid address, takes
    email-validator's full path (so its error messages stay the same)."""
    local, _, domain = value.rpartition("@")
    if (
        value.isascii()
        and len(value) <= EMAIL_MAX_LENGTH
        and DOT_ATOM_TEXT.match(local)
        and local.lower() not in CASE_INSENSITIVE_MAILBOX_NAMES
    ):
        normal = _plain_domain(domain)
        if normal is not None:
            return local + "@" + normal
    try:
        info = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return info.normalized


@functools.lru_cache(maxsize=4096)
def _plain_domain(domain: str) -> str | None:
    """The normalised form of a valid domain whose normal form is itself lower-cased
    (no IDNA conversion, so lengths stay as given); else None (the full path)."""
    try:
        info = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return None
    return info.domain if info.domain == domain.lower() else None


# Imported password hashes (PHC strings), with cost bounds: a hash is verified at
# every sign-in, so an outsized cost would be a denial of service.
_ARGON2ID = re.compile(
    r"^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,64}\$[A-Za-z0-9+/]{16,128}$"
)
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
ARGON2_MAX_MEMORY_KIB = 65536
ARGON2_MAX_TIME = 10
ARGON2_MAX_LANES = 8
BCRYPT_COST = (4, 14)


def password_hash(value: str) -> str:
    """A PHC string: argon2id (v=19; m <= 64 MiB, t <= 10, p <= 8) or bcrypt
    (``$2a$``/``$2b$``/``$2y$``, cost 4 to 14)."""
    m = _ARGON2ID.match(value)
    if m:
        mem, t, p = (int(x) for x in m.groups())
        if not (8 <= mem <= ARGON2_MAX_MEMORY_KIB and 1 <= t <= ARGON2_MAX_TIME):
            raise ValueError("argon2id parameters out of range (m 8..65536 KiB, t 1..10)")
        if not 1 <= p <= ARGON2_MAX_LANES:
            raise ValueError("argon2id parallelism out of range (p 1..8)")
        return value
    b = _BCRYPT.match(value)
    if b:
        cost = int(b.group(1))
        if not BCRYPT_COST[0] <= cost <= BCRYPT_COST[1]:
            raise ValueError("bcrypt cost out of range (4..14)")
        return value
    raise ValueError("must be a PHC string: argon2id ($argon2id$v=19$...) or bcrypt ($2b$...)")
