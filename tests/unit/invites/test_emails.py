"""The welcome and recovery emails in the user's language, expiry in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from invite_scheduler import domain as d
from invite_scheduler import emails

EXPIRES = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def mail(language: str | None, time_zone: str | None, kind: str = "welcome") -> d.WelcomeEmail:
    return d.welcome_email(
        to="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        account_name="Initech",
        link="https://x.example/activate/TOK",
        expires_at=EXPIRES,
        product="Cloud Phone",
        language=language,
        time_zone=time_zone,
        kind=kind,
    )


def test_french_german_and_spanish_welcomes_with_the_expiry_in_local_time() -> None:
    fr = mail("fr-FR", "Europe/Paris")
    assert fr.subject.startswith("Bienvenue chez Initech")
    assert "1 décembre 2026" in fr.text and "09:00:00" in fr.text and "(Europe/Paris)" in fr.text
    de = mail("de", "Europe/Berlin")
    assert "Willkommen bei Initech" in de.subject and "1. Dezember 2026" in de.text
    es = mail("es-MX", "America/Mexico_City")
    assert "Bienvenido a Initech" in es.subject and "2:00:00" in es.text
    assert "(America/Mexico_City)" in es.text and "diciembre" in es.text


def test_unknown_or_missing_languages_and_zones_fall_back_to_english_and_utc() -> None:
    for language, zone in (("ja", "Asia/Tokyo"), (None, None), ("xx-nope", "Mars/Olympus")):
        m = mail(language, zone)
        assert m.subject.startswith("Welcome to Initech"), language
        assert "expires on" in m.text
    assert "(UTC)" in mail(None, None).text and "(Asia/Tokyo)" in mail("ja", "Asia/Tokyo").text
    # Japanese gets English words but its own date format
    assert "2026年12月1日" in mail("ja", "Asia/Tokyo").text


def test_the_recovery_email_is_localized_too_and_escapes_html() -> None:
    m = mail("de-AT", "Europe/Vienna", kind="recovery")
    assert m.subject == "Cloud Phone: Passwort zurücksetzen"
    assert "Neues Passwort wählen" in m.html and 'href="https://x.example/activate/TOK"' in m.html
    assert emails.locale_for("pt_BR").language == "pt"
