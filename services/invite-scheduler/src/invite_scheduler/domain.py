"""Pure rules of invitations: local times in a zone, tokens, links, the welcome email,
which state allows what, the retry policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from invite_scheduler import emails

SCHEDULED = "Scheduled"
SENT = "Sent"
ACCEPTED = "Accepted"
CANCELLED = "Cancelled"
EXPIRED = "Expired"
FAILED = "Failed"

LIVE = (SCHEDULED, SENT)  # at most one live invite per user (unique index)
CANCELLABLE = (SCHEDULED, SENT, FAILED)
RESENDABLE = (SCHEDULED, SENT, FAILED, EXPIRED)
RESCHEDULABLE = (SCHEDULED, FAILED)

TOKEN_BYTES = 32  # 256 bits from ``secrets``


class ScheduleError(ValueError):
    """A local send time that cannot be used; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Schedule:
    send_at: datetime  # UTC instant
    local_send_at: str  # as given (normalised to seconds precision)
    time_zone: str


def parse_local(local: str) -> datetime:
    value = datetime.fromisoformat(local)
    if value.tzinfo is not None:
        raise ScheduleError("send_at", "must be a local date-time without offset")
    return value


def local_to_utc(local: str, zone: str) -> datetime:
    """The UTC instant a wall-clock time in ``zone`` means.

    A time that does not exist (the hour skipped when DST starts) is refused. A time
    that exists twice (the hour repeated when DST ends) means the **earlier** instant,
    i.e. still on daylight time (``fold=0``)."""
    naive = parse_local(local)
    tz = ZoneInfo(zone)
    aware = naive.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise ScheduleError(
            "send_at", f"{local} does not exist in {zone}: the clocks skip it (daylight saving)"
        )
    return utc


def plan_schedule(local: str, zone: str, now: datetime, max_days: int) -> Schedule:
    """A schedule for an admin's command: in the future and within the horizon."""
    utc = local_to_utc(local, zone)
    if utc <= now:
        raise ScheduleError("send_at", f"{local} in {zone} is in the past")
    if utc > now + timedelta(days=max_days):
        raise ScheduleError("send_at", f"invites can be scheduled at most {max_days} days ahead")
    return Schedule(utc, parse_local(local).isoformat(timespec="seconds"), zone)


def event_schedule(
    local: str | None, zone: str | None, utc_hint: datetime | None, now: datetime
) -> Schedule | None:
    """A schedule from identity's ``invite_requested``: identity has validated it already,
    so a time that has passed meanwhile (consumer lag) means "send now", and a DST gap
    falls back to the UTC instant identity computed (or the first instant after the gap)."""
    if local is None or zone is None:
        if utc_hint is None:
            return None
        return Schedule(max(utc_hint, now), utc_hint.isoformat(), zone or "UTC")
    try:
        utc = local_to_utc(local, zone)
    except ScheduleError:
        if utc_hint is not None:
            utc = utc_hint
        else:
            utc = parse_local(local).replace(tzinfo=ZoneInfo(zone), fold=1).astimezone(UTC)
    return Schedule(max(utc, now), parse_local(local).isoformat(timespec="seconds"), zone)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def derive_token(key: bytes, invite_id: str, generation: int) -> str:
    """The activation token of one send generation of an invite: the same every time
    it is computed (a mail re-sent after a crash carries the same link), unguessable
    without ``key`` (HMAC-SHA256, 256 bits), and only its hash is stored."""
    mac = hmac.new(key, f"invite-token:{invite_id}:{generation}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def derive_recovery_token(key: bytes, recovery_id: str) -> str:
    """A password recovery link's token: made once per recovery (a mail re-sent after a
    crash carries the same link), unguessable without ``key``; only its hash is stored."""
    mac = hmac.new(key, f"recovery-token:{recovery_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def message_id(invite_id: str, generation: int, sender: str) -> str:
    """The ``Message-ID`` of an invite's mail: stable per invite and send generation, so
    a re-sent copy is recognisably the same message."""
    domain = sender.rpartition("@")[2] or "invites"
    return f"<{invite_id}.{generation}@{domain}>"


def hash_token(token: str) -> bytes:
    """SHA-256: the token has 256 bits of entropy, so a fast hash is enough (nothing to
    brute-force) and it doubles as the lookup key; argon2 would need a second key."""
    return hashlib.sha256(token.encode()).digest()


def activation_link(base_url: str, token: str) -> str:
    """The token is the last path segment, or the value of ``?token=`` when the base
    ends with ``=``."""
    if base_url.endswith("="):
        return base_url + token
    if "?" in base_url:
        sep = "&" if not base_url.endswith(("?", "&")) else ""
        return f"{base_url}{sep}token={token}"
    return base_url.rstrip("/") + "/" + token


def retry_delay(attempts: int, delays: Sequence[float]) -> float:
    if not delays:
        return 1.0
    return delays[min(max(attempts, 1) - 1, len(delays) - 1)]


def is_transient_smtp(code: int | None) -> bool:
    """4xx replies and no reply at all (connection refused, timeout) are worth a retry;
    5xx is permanent."""
    return code is None or 400 <= code < 500


@dataclass(frozen=True)
class WelcomeEmail:
    to: str
    subject: str
    text: str
    html: str


def welcome_email(
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
    kind: str = "welcome",
) -> WelcomeEmail:
    """The welcome (or, with ``kind="recovery"``, password recovery) email, in the
    user's language with the expiry in its time zone (invite_scheduler.emails)."""
    r = emails.render(
        kind,
        to=to,
        first_name=first_name,
        last_name=last_name,
        account_name=account_name,
        link=link,
        expires_at=expires_at,
        product=product,
        language=language,
        time_zone=time_zone,
    )
    return WelcomeEmail(to=to, subject=r.subject, text=r.text, html=r.html)


class DeliveryFailed(Exception):
    """The SMTP server did not take the message; ``transient`` ones are retried."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
