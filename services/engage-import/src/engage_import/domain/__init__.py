"""Pure rules of the engage-import service: time zone and language mapping,
usernames, roles and their permissions. No I/O."""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime

# --- the contact-centre product's supported values ---------------------------------
#: Time zones the contact-centre product offers, in preference order: when several
#: share a UTC offset, the same-offset fallback picks the first one listed.
SUPPORTED_ZONES: tuple[str, ...] = (
    "UTC",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Bogota",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Cairo",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
)

#: Links and aliases of the IANA database (and well-known regional zones) whose
#: nearest supported zone is not the first same-offset one.
ZONE_ALIASES: dict[str, str] = {
    "Etc/UTC": "UTC",
    "Etc/GMT": "UTC",
    "Etc/Universal": "UTC",
    "Etc/Zulu": "UTC",
    "GMT": "UTC",
    "Universal": "UTC",
    "Zulu": "UTC",
    "US/Eastern": "America/New_York",
    "US/Central": "America/Chicago",
    "US/Mountain": "America/Denver",
    "US/Arizona": "America/Phoenix",
    "US/Pacific": "America/Los_Angeles",
    "US/Alaska": "America/Anchorage",
    "US/Hawaii": "Pacific/Honolulu",
    "America/Detroit": "America/New_York",
    "America/Toronto": "America/New_York",
    "America/Montreal": "America/New_York",
    "America/Indiana/Indianapolis": "America/New_York",
    "America/Kentucky/Louisville": "America/New_York",
    "America/Vancouver": "America/Los_Angeles",
    "America/Edmonton": "America/Denver",
    "America/Boise": "America/Denver",
    "America/Winnipeg": "America/Chicago",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "Canada/Eastern": "America/New_York",
    "Canada/Pacific": "America/Los_Angeles",
    "GB": "Europe/London",
    "Europe/Belfast": "Europe/London",
    "Europe/Jersey": "Europe/London",
    "Eire": "Europe/Dublin",
    "Portugal": "Europe/Lisbon",
    "Europe/Brussels": "Europe/Paris",
    "Europe/Luxembourg": "Europe/Paris",
    "Europe/Monaco": "Europe/Paris",
    "Europe/Vienna": "Europe/Berlin",
    "Europe/Zurich": "Europe/Berlin",
    "Europe/Copenhagen": "Europe/Berlin",
    "Europe/Stockholm": "Europe/Berlin",
    "Europe/Oslo": "Europe/Berlin",
    "Europe/Warsaw": "Europe/Berlin",
    "Europe/Prague": "Europe/Berlin",
    "Europe/Vatican": "Europe/Rome",
    "Europe/Kiev": "Europe/Helsinki",
    "Europe/Kyiv": "Europe/Helsinki",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Hong_Kong": "Asia/Shanghai",
    "Asia/Taipei": "Asia/Shanghai",
    "Asia/Manila": "Asia/Shanghai",
    "Asia/Seoul": "Asia/Tokyo",
    "Japan": "Asia/Tokyo",
    "PRC": "Asia/Shanghai",
    "Australia/Melbourne": "Australia/Sydney",
    "Australia/Canberra": "Australia/Sydney",
    "Australia/ACT": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
}

#: Locales the contact-centre product offers. The first locale of a language is
#: that language's default (``fr`` -> ``fr-FR``).
SUPPORTED_LOCALES: tuple[str, ...] = (
    "en-US",
    "en-GB",
    "en-AU",
    "fr-FR",
    "fr-CA",
    "de-DE",
    "es-ES",
    "es-MX",
    "it-IT",
    "nl-NL",
    "pt-BR",
    "pt-PT",
    "ja-JP",
    "zh-CN",
    "ko-KR",
    "sv-SE",
)

#: Regional variants whose nearest supported locale is not the language default.
LOCALE_ALIASES: dict[str, str] = {
    "en-IE": "en-GB",
    "en-IN": "en-GB",
    "en-ZA": "en-GB",
    "en-NZ": "en-AU",
    "fr-QC": "fr-CA",
    "es-419": "es-MX",
    "es-US": "es-MX",
    "es-AR": "es-MX",
    "es-CO": "es-MX",
    "es-CL": "es-MX",
    "pt-AO": "pt-PT",
    "pt-MZ": "pt-PT",
    "zh-Hans": "zh-CN",
    "zh-Hans-CN": "zh-CN",
    "zh-SG": "zh-CN",
    "zh-Hans-SG": "zh-CN",
}

#: Languages that must not fall back to their language default: Traditional
#: Chinese is not Simplified Chinese.
LOCALE_NO_LANGUAGE_FALLBACK: frozenset[str] = frozenset(
    {"zh-TW", "zh-HK", "zh-MO", "zh-Hant", "zh-Hant-TW", "zh-Hant-HK"}
)

PRODUCT_DEFAULT_ZONE = "America/New_York"
PRODUCT_DEFAULT_LOCALE = "en-US"


@dataclass(frozen=True)
class Mapped:
    source: str | None
    value: str
    rule: str  # exact | mapped | fallback

    def as_dict(self) -> dict[str, str | None]:
        return {"source": self.source, "value": self.value, "rule": self.rule}


_REF_INSTANTS = (
    datetime(2025, 1, 15, 12, tzinfo=UTC),
    datetime(2025, 7, 15, 12, tzinfo=UTC),
)


def _offsets(zone: str) -> tuple[float, ...] | None:
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None
    out = []
    for instant in _REF_INSTANTS:
        off = instant.astimezone(tz).utcoffset()
        if off is None:
            return None
        out.append(off.total_seconds())
    return tuple(out)


@functools.cache
def _zone_by_offsets() -> dict[tuple[float, ...], str]:
    table: dict[tuple[float, ...], str] = {}
    for z in SUPPORTED_ZONES:
        key = _offsets(z)
        if key is not None:
            table.setdefault(key, z)
    return table


@functools.cache
def _zone_exact() -> dict[str, str]:
    return {z.lower(): z for z in SUPPORTED_ZONES}


@functools.cache
def map_time_zone_value(source: str) -> tuple[str, str] | None:
    """(product zone, rule) for an IANA name, or None when nothing fits.

    Order: the zone itself when supported (``exact``); a known link or alias;
    else a supported zone with the same UTC offsets in January and July, so the
    same DST behaviour (both ``mapped``)."""
    exact = _zone_exact().get(source.lower())
    if exact is not None:
        return (exact, "exact") if exact == source else (exact, "mapped")
    alias = ZONE_ALIASES.get(source)
    if alias is not None:
        return alias, "mapped"
    key = _offsets(source)
    if key is not None and key in _zone_by_offsets():
        return _zone_by_offsets()[key], "mapped"
    return None


def map_time_zone(source: str | None, default: str) -> Mapped:
    """A user's IANA zone onto the product's list, else the Engage account's default."""
    if source:
        hit = map_time_zone_value(source)
        if hit is not None:
            return Mapped(source, hit[0], hit[1])
    return Mapped(source, default, "fallback")


_SUBTAG = re.compile(r"^[A-Za-z0-9]{1,8}$")


def canonical_tag(tag: str) -> str | None:
    """``EN_us`` -> ``en-US``; ``zh-hant-tw`` -> ``zh-Hant-TW``; None when malformed."""
    parts = [p for p in tag.replace("_", "-").split("-") if p]
    if not parts or not all(_SUBTAG.match(p) for p in parts):
        return None
    lang = parts[0].lower()
    if not (2 <= len(lang) <= 3 and lang.isalpha()):
        return None
    out = [lang]
    for p in parts[1:]:
        if len(p) == 4 and p.isalpha():
            out.append(p.title())
        elif (len(p) == 2 and p.isalpha()) or (len(p) == 3 and p.isdigit()):
            out.append(p.upper())
        else:
            out.append(p.lower())
    return "-".join(out)


@functools.cache
def _locale_exact() -> dict[str, str]:
    return {t.lower(): t for t in SUPPORTED_LOCALES}


@functools.cache
def _language_default() -> dict[str, str]:
    table: dict[str, str] = {}
    for t in SUPPORTED_LOCALES:
        table.setdefault(t.split("-")[0], t)
    return table


@functools.cache
def map_language_value(source: str) -> tuple[str, str] | None:
    """(product locale, rule) for a BCP-47 tag, or None when nothing fits.

    Order: the tag itself when supported (``exact``); a regional alias; the
    language's default locale (``fr-BE`` -> ``fr-FR``), except for variants that
    are a different written language (``zh-TW``)."""
    tag = canonical_tag(source)
    if tag is None:
        return None
    hit = _locale_exact().get(tag.lower())
    if hit is not None:
        return (hit, "exact") if hit == source else (hit, "mapped")
    if tag in LOCALE_ALIASES:
        return LOCALE_ALIASES[tag], "mapped"
    if tag in LOCALE_NO_LANGUAGE_FALLBACK:
        return None
    parts = tag.split("-")
    if len(parts) >= 2 and parts[0] == "zh" and parts[1] == "Hant":
        return None
    lang_default = _language_default().get(parts[0])
    if lang_default is not None:
        return lang_default, "mapped"
    return None


def map_language(source: str | None, default: str) -> Mapped:
    """A user's BCP-47 language onto the product's locales, else the Engage account's default."""
    if source:
        hit = map_language_value(source)
        if hit is not None:
            return Mapped(source, hit[0], hit[1])
    return Mapped(source, default, "fallback")


def engage_defaults(time_zone: str | None, language: str | None) -> tuple[str, str]:
    """The Engage account's defaults: the phone-system account's defaults mapped, or
    the product's own defaults when those do not map."""
    tz = map_time_zone(time_zone, PRODUCT_DEFAULT_ZONE).value
    lang = map_language(language, PRODUCT_DEFAULT_LOCALE).value
    return tz, lang


# --- usernames ----------------------------------------------------------------------
USERNAME_MAX = 40
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def username_base(email: str) -> str:
    """The local part of the email, lower-cased, accents folded to ASCII, every run
    of other characters turned into one '.', trimmed of dots, at most 40 characters;
    ``agent`` when nothing is left."""
    local = email.rsplit("@", 1)[0]
    folded = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode().lower()
    base = _NON_ALNUM.sub(".", folded).strip(".")[:USERNAME_MAX].strip(".")
    return base or "agent"


def assign_usernames(bases: list[str], taken: set[str]) -> list[str]:
    """A unique username per base: the base itself, else the base with the smallest
    numeric suffix from 2 up that is free (``jane.doe``, ``jane.doe2``, ...)."""
    used = set(taken)
    out: list[str] = []
    for base in bases:
        name = base
        n = 2
        while name in used:
            name = f"{base}{n}"
            n += 1
        used.add(name)
        out.append(name)
    return out


# --- roles --------------------------------------------------------------------------
#: The permission set of the contact-centre product that roles are made of.
ENGAGE_PERMISSIONS: tuple[str, ...] = (
    "inbox.read",
    "inbox.reply",
    "interventions.reassign",
    "agents.read",
    "agents.manage",
    "teams.manage",
    "categories.manage",
    "roles.manage",
    "reports.view",
    "quality.review",
    "settings.manage",
    "imports.run",
)

#: The four predefined roles: stable ids in every Engage account.
PREDEFINED_ROLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("administrator", "Administrator", ENGAGE_PERMISSIONS),
    ("agent", "Agent", ("inbox.read", "inbox.reply")),
    (
        "manager",
        "Manager",
        (
            "inbox.read",
            "inbox.reply",
            "interventions.reassign",
            "agents.read",
            "agents.manage",
            "teams.manage",
            "categories.manage",
            "reports.view",
            "quality.review",
        ),
    ),
    (
        "quality_analyst",
        "Quality analyst",
        ("inbox.read", "agents.read", "reports.view", "quality.review"),
    ),
)

PREDEFINED_ROLE_NAMES: frozenset[str] = frozenset(name.lower() for _, name, _ in PREDEFINED_ROLES)


def unknown_permissions(permissions: list[str]) -> list[int]:
    """Indexes of permissions that are not in the product's set."""
    allowed = set(ENGAGE_PERMISSIONS)
    return [i for i, p in enumerate(permissions) if p not in allowed]


def dedupe(ids: list[str]) -> list[str]:
    """Ids in first-seen order, each once."""
    return list(dict.fromkeys(ids))


# --- Engage Voice -----------------------------------------------------------------
VOICE_RULE = "one_account_at_a_time"
VOICE_RULE_MESSAGE = (
    "An Engage Voice agent login can be signed in to only one account at a time: "
    "sign out of the other account first."
)


def voice_login(email: str) -> str:
    """The Engage Voice login of an agent: its email, compared case-insensitively."""
    return email.strip().lower()
