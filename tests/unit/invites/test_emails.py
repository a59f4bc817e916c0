"""The welcome and recovery emails in the user's language, expiry in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from invite_scheduler import domain as d
from invite_scheduler import emails
from invite_scheduler.adapters.mailer import welcome_mime

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


def _sent(m: d.WelcomeEmail) -> tuple[bytes, EmailMessage]:
    raw = welcome_mime("no-reply@phone.example.com", m, "<inv_1.0@phone.example.com>")
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def _text(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


def test_the_mail_as_sent_holds_both_texts_and_the_headers_unchanged() -> None:
    for language in ("de", "fr-FR", None):
        m = mail(language, "Europe/Berlin")
        raw, msg = _sent(m)
        assert not msg.defects
        assert msg.get_content_type() == "multipart/alternative"
        assert _text(msg, "plain") == m.text
        assert _text(msg, "html").rstrip("\n") == m.html.rstrip("\n")
        assert msg["Subject"] == m.subject
        assert (msg["From"], msg["To"]) == ("no-reply@phone.example.com", "ada@example.com")
        assert msg["Message-ID"] == "<inv_1.0@phone.example.com>"
        assert all(len(line) <= 78 for line in raw.split(b"\r\n"))


def test_a_long_or_accented_subject_is_encoded_and_folded() -> None:
    m = d.welcome_email(
        to="ada@example.com",
        first_name="Jürgen",
        last_name="Çelik",
        account_name="Société Générale des Très Longues Raisons Sociales Internationales",
        link="https://x.example/activate/TOK",
        expires_at=EXPIRES,
        product="Cloud Phone",
        language="fr",
        time_zone="Europe/Paris",
    )
    raw, msg = _sent(m)
    assert raw.isascii() and msg["Subject"] == m.subject
    assert _text(msg, "plain") == m.text
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
