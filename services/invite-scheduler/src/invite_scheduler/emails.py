"""The texts of the emails the invite scheduler sends (welcome, password recovery), in
the user's language, with the link's expiry in the user's time zone (Babel).

English, French, German and Spanish are written here; any other language falls back to
English (its dates still follow the user's locale when Babel knows it)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Texts:
    welcome_subject: str
    welcome_intro: str
    welcome_action: str
    recovery_subject: str
    recovery_intro: str
    recovery_action: str
    greeting: str
    paste: str
    expiry: str
    ignore: str


TEXTS: dict[str, Texts] = {
    "en": Texts(
        welcome_subject="Welcome to {account} on {product}: activate your account",
        welcome_intro="{account} has set up a {product} account for you ({email}).",
        welcome_action="Activate your account",
        recovery_subject="{product}: reset your password",
        recovery_intro="Someone (we hope you) asked to reset the {product} password of {email}.",
        recovery_action="Choose a new password",
        greeting="Hello {name},",
        paste="Or paste this link into your browser:",
        expiry="The link works once and expires on {when}.",
        ignore="If you did not expect this email, you can ignore it.",
    ),
    "fr": Texts(
        welcome_subject="Bienvenue chez {account} sur {product} : activez votre compte",
        welcome_intro="{account} a créé un compte {product} pour vous ({email}).",
        welcome_action="Activer votre compte",
        recovery_subject="{product} : réinitialisez votre mot de passe",
        recovery_intro=(
            "Quelqu'un (vous, nous l'espérons) a demandé à réinitialiser le mot de passe"
            " {product} de {email}."
        ),
        recovery_action="Choisir un nouveau mot de passe",
        greeting="Bonjour {name},",
        paste="Ou collez ce lien dans votre navigateur :",
        expiry="Le lien ne fonctionne qu'une fois et expire le {when}.",
        ignore="Si vous n'attendiez pas cet e-mail, vous pouvez l'ignorer.",
    ),
    "de": Texts(
        welcome_subject="Willkommen bei {account} auf {product}: Aktivieren Sie Ihr Konto",
        welcome_intro="{account} hat ein {product}-Konto für Sie eingerichtet ({email}).",
        welcome_action="Konto aktivieren",
        recovery_subject="{product}: Passwort zurücksetzen",
        recovery_intro=(
            "Jemand (hoffentlich Sie) hat das Zurücksetzen des {product}-Passworts von"
            " {email} angefordert."
        ),
        recovery_action="Neues Passwort wählen",
        greeting="Hallo {name},",
        paste="Oder fügen Sie diesen Link in Ihren Browser ein:",
        expiry="Der Link funktioniert einmal und läuft am {when} ab.",
        ignore="Wenn Sie diese E-Mail nicht erwartet haben, können Sie sie ignorieren.",
    ),
    "es": Texts(
        welcome_subject="Bienvenido a {account} en {product}: active su cuenta",
        welcome_intro="{account} ha creado una cuenta de {product} para usted ({email}).",
        welcome_action="Activar su cuenta",
        recovery_subject="{product}: restablezca su contraseña",
        recovery_intro=(
            "Alguien (esperamos que usted) pidió restablecer la contraseña de {product} de {email}."
        ),
        recovery_action="Elegir una contraseña nueva",
        greeting="Hola {name}:",
        paste="O pegue este enlace en su navegador:",
        expiry="El enlace funciona una sola vez y caduca el {when}.",
        ignore="Si no esperaba este correo, puede ignorarlo.",
    ),
}


def locale_for(language: str | None) -> Locale:
    """The Babel locale of a language tag (``fr-CA``, ``de``, ``pt_BR``); English when
    the tag is missing or unknown."""
    if language:
        try:
            return Locale.parse(language.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(DEFAULT_LANGUAGE)


def texts_for(locale: Locale) -> Texts:
    return TEXTS.get(locale.language, TEXTS[DEFAULT_LANGUAGE])


def zone_for(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=1024)
def local_expiry(expires_at: datetime, language: str | None, time_zone: str | None) -> str:
    """When the link expires, as the user reads it: its locale's long date and time in
    its time zone, followed by the zone's name (``1 décembre 2026 à 09:00:00 UTC+1
    (Europe/Paris)``). Cached: the invites of one claimed batch share their expiry, and
    Babel's formatting cost about as much CPU as the rest of the mail."""
    zone = zone_for(time_zone)
    when = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
    text = format_datetime(when, format="long", tzinfo=zone, locale=locale_for(language))
    return f"{text} ({zone.key})"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(
    kind: str,
    *,
    to: str,
    first_name: str,
    last_name: str,
    account_name: str,
    link: str,
    expires_at: datetime,
    product: str,
    language: str | None = None,
    time_zone: str | None = None,
) -> Rendered:
    """``kind``: ``welcome`` or ``recovery``."""
    t = texts_for(locale_for(language))
    full = f"{first_name} {last_name}".strip() or to
    when = local_expiry(expires_at, language, time_zone)
    values = {"account": account_name, "product": product, "email": to}
    if kind == "welcome":
        subject, intro, action = t.welcome_subject, t.welcome_intro, t.welcome_action
    else:
        subject, intro, action = t.recovery_subject, t.recovery_intro, t.recovery_action
    greeting = t.greeting.format(name=full)
    intro_text = intro.format(**values)
    expiry = t.expiry.format(when=when)
    text = f"{greeting}\n\n{intro_text}\n{action}:\n\n{link}\n\n{expiry}\n{t.ignore}\n"
    e = html.escape
    body = (
        "<!doctype html><html><body>"
        f"<p>{e(greeting)}</p>"
        f"<p>{e(intro_text)}</p>"
        f'<p><a href="{e(link, quote=True)}">{e(action)}</a></p>'
        f"<p>{e(t.paste)} {e(link)}</p>"
        f"<p>{e(expiry)}</p>"
        f"<p>{e(t.ignore)}</p>"
        "</body></html>"
    )
    return Rendered(subject.format(**values), text, body)
