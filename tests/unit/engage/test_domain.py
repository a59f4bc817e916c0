"""Pure rules of engage-import: mapping tables, usernames, roles."""

from __future__ import annotations

import pytest
from engage_import import domain

DEFAULT_TZ = "Europe/Paris"
DEFAULT_LANG = "fr-FR"


@pytest.mark.parametrize(
    ("source", "value", "rule"),
    [
        ("America/New_York", "America/New_York", "exact"),
        ("Europe/London", "Europe/London", "exact"),
        ("Asia/Tokyo", "Asia/Tokyo", "exact"),
        ("UTC", "UTC", "exact"),
        ("US/Eastern", "America/New_York", "mapped"),
        ("US/Pacific", "America/Los_Angeles", "mapped"),
        ("America/Detroit", "America/New_York", "mapped"),
        ("America/Toronto", "America/New_York", "mapped"),
        ("America/Vancouver", "America/Los_Angeles", "mapped"),
        ("Asia/Calcutta", "Asia/Kolkata", "mapped"),
        ("Europe/Brussels", "Europe/Paris", "mapped"),
        ("Europe/Zurich", "Europe/Berlin", "mapped"),
        ("Etc/UTC", "UTC", "mapped"),
        ("Australia/Melbourne", "Australia/Sydney", "mapped"),
        ("Asia/Seoul", "Asia/Tokyo", "mapped"),
        ("europe/london", "Europe/London", "mapped"),
        # same UTC offsets in January and July -> the first supported zone listed
        ("Africa/Nairobi", "Europe/Istanbul", "mapped"),
        ("Asia/Jakarta", "Asia/Bangkok", "mapped"),
        ("America/Lima", "America/Bogota", "mapped"),
        ("Africa/Casablanca", "Africa/Lagos", "mapped"),
        # nothing with that offset: the Engage account's default
        ("Asia/Kathmandu", DEFAULT_TZ, "fallback"),
        ("Asia/Tehran", DEFAULT_TZ, "fallback"),
        ("Pacific/Chatham", DEFAULT_TZ, "fallback"),
        ("Mars/Olympus_Mons", DEFAULT_TZ, "fallback"),
        ("", DEFAULT_TZ, "fallback"),
        (None, DEFAULT_TZ, "fallback"),
    ],
)
def test_time_zones_map_onto_the_products_list(source: str | None, value: str, rule: str) -> None:
    got = domain.map_time_zone(source, DEFAULT_TZ)
    assert (got.value, got.rule, got.source) == (value, rule, source)


@pytest.mark.parametrize(
    ("source", "value", "rule"),
    [
        ("en-US", "en-US", "exact"),
        ("fr-FR", "fr-FR", "exact"),
        ("pt-BR", "pt-BR", "exact"),
        ("ja-JP", "ja-JP", "exact"),
        ("en_us", "en-US", "mapped"),
        ("EN-gb", "en-GB", "mapped"),
        ("en", "en-US", "mapped"),
        ("en-IE", "en-GB", "mapped"),
        ("en-NZ", "en-AU", "mapped"),
        ("en-CA", "en-US", "mapped"),
        ("fr", "fr-FR", "mapped"),
        ("fr-BE", "fr-FR", "mapped"),
        ("fr-CA", "fr-CA", "exact"),
        ("de-AT", "de-DE", "mapped"),
        ("de-CH", "de-DE", "mapped"),
        ("es-419", "es-MX", "mapped"),
        ("es-AR", "es-MX", "mapped"),
        ("es", "es-ES", "mapped"),
        ("pt", "pt-BR", "mapped"),
        ("zh-Hans-CN", "zh-CN", "mapped"),
        ("zh", "zh-CN", "mapped"),
        ("zh-TW", DEFAULT_LANG, "fallback"),
        ("zh-Hant-HK", DEFAULT_LANG, "fallback"),
        ("ru-RU", DEFAULT_LANG, "fallback"),
        ("ar", DEFAULT_LANG, "fallback"),
        ("not a tag", DEFAULT_LANG, "fallback"),
        (None, DEFAULT_LANG, "fallback"),
    ],
)
def test_languages_map_onto_the_products_locales(source: str | None, value: str, rule: str) -> None:
    got = domain.map_language(source, DEFAULT_LANG)
    assert (got.value, got.rule) == (value, rule)


def test_every_supported_zone_and_alias_target_is_a_real_supported_zone() -> None:
    assert len(domain.SUPPORTED_ZONES) >= 30
    for zone in domain.SUPPORTED_ZONES:
        assert domain.map_time_zone(zone, "UTC").rule == "exact"
    for target in domain.ZONE_ALIASES.values():
        assert target in domain.SUPPORTED_ZONES
    for target in domain.LOCALE_ALIASES.values():
        assert target in domain.SUPPORTED_LOCALES


def test_engage_defaults_map_the_account_defaults_or_use_the_products() -> None:
    assert domain.engage_defaults("US/Central", "en") == ("America/Chicago", "en-US")
    assert domain.engage_defaults("Asia/Kathmandu", "ru-RU") == ("America/New_York", "en-US")
    assert domain.engage_defaults(None, None) == ("America/New_York", "en-US")


@pytest.mark.parametrize(
    ("email", "base"),
    [
        ("Jane.Doe@example.com", "jane.doe"),
        ("jane_doe+sales@example.com", "jane.doe.sales"),
        ("José.Núñez@example.com", "jose.nunez"),
        ("--@example.com", "agent"),
        ("a" * 60 + "@example.com", "a" * 40),
    ],
)
def test_username_base_is_the_normalised_local_part(email: str, base: str) -> None:
    assert domain.username_base(email) == base


def test_usernames_are_deduplicated_with_a_numeric_suffix() -> None:
    taken = {"jane.doe", "jane.doe2"}
    got = domain.assign_usernames(["jane.doe", "jane.doe", "bob"], taken)
    assert got == ["jane.doe3", "jane.doe4", "bob"]


def test_predefined_roles_use_only_known_permissions() -> None:
    names = [name for _, name, _ in domain.PREDEFINED_ROLES]
    assert names == ["Administrator", "Agent", "Manager", "Quality analyst"]
    for _, _, perms in domain.PREDEFINED_ROLES:
        assert domain.unknown_permissions(list(perms)) == []
    assert domain.unknown_permissions(["inbox.read", "fly"]) == [1]


def test_voice_login_is_the_email_case_insensitively() -> None:
    assert domain.voice_login(" Jane.Doe@Example.com ") == "jane.doe@example.com"
