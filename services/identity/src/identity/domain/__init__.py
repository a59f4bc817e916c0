"""Pure rules of the identity service: roles, credentials policy, invite schedules,
extension numbers, which user types take what. No I/O, no framework."""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from shared.auth import Perm
from shared.contracts.invites import SCHEDULE_HORIZON_DAYS

MAX_USERS_PER_ADD = 25
SCHEDULE_HORIZON = timedelta(days=SCHEDULE_HORIZON_DAYS)  # one horizon, on every path
DEFAULT_ROLE = "Standard User (International)"
DEFAULT_ROLE_ID = "role_standard_intl"
CALL_RECORDING = ("off", "inbound", "outbound", "both")
SETUP_OPTIONS = ("send_invite", "schedule_invite", "assign_credentials", "activate_later")

# Types that take a license from inventory.
LICENSED_TYPES = frozenset({"standard", "video_pro_plus"})
# Types that make and take direct calls, so may have a desk phone and a direct number.
# Video Pro+ and Mobile have no direct calls; a Free user is reached only through the
# company auto-receptionist and calls out with RingOut on a phone of its own.
CALLING_TYPES = frozenset({"standard"})

PASSWORD_MIN = 8
PASSWORD_MAX = 64
PIN_MIN = 6
PIN_MAX = 10
ANSWER_MIN = 5


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    permissions: frozenset[str]
    international_calling: bool = False
    predefined: bool = True


_USER_PERMS = frozenset({Perm.SELF})
PREDEFINED_ROLES: tuple[Role, ...] = (
    Role("role_super_admin", "Super Admin", frozenset(Perm.ALL), True),
    Role(
        "role_phone_system_admin",
        "Phone System Admin",
        frozenset(
            {
                Perm.ACCOUNT_READ,
                Perm.ACCOUNT_MANAGE,
                Perm.INVENTORY_PURCHASE,
                Perm.USERS_READ,
                Perm.USERS_MANAGE,
                Perm.INVITES_MANAGE,
                Perm.SELF,
            }
        ),
        True,
    ),
    Role(
        "role_users_admin",
        "Users Admin",
        frozenset(
            {
                Perm.ACCOUNT_READ,
                Perm.USERS_READ,
                Perm.USERS_MANAGE,
                Perm.ROLES_MANAGE,
                Perm.INVITES_MANAGE,
                Perm.SELF,
            }
        ),
        True,
    ),
    Role(DEFAULT_ROLE_ID, DEFAULT_ROLE, _USER_PERMS, True),
    Role("role_standard", "Standard User", _USER_PERMS, False),
)
SUPER_ADMIN = PREDEFINED_ROLES[0]


def predefined_role(ref: str) -> Role | None:
    key = ref.strip().casefold()
    for role in PREDEFINED_ROLES:
        if role.id == ref or role.name.casefold() == key:
            return role
    return None


def is_predefined_name(name: str) -> bool:
    return any(r.name.casefold() == name.strip().casefold() for r in PREDEFINED_ROLES)


def unknown_permissions(perms: list[str]) -> list[str]:
    return [p for p in perms if p not in Perm.ALL]


# --- credentials --------------------------------------------------------------

# The most common passwords of public breach corpora (length >= 8 only: shorter ones
# fail the length rule anyway). Kept short on purpose; extend from a corpus if needed.
COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "87654321",
        "11111111",
        "00000000",
        "12341234",
        "12121212",
        "11223344",
        "qwertyuiop",
        "qwerty123",
        "qwerty12",
        "1qaz2wsx",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "zaq12wsx",
        "asdfghjk",
        "asdfghjkl",
        "qwertyui",
        "iloveyou",
        "iloveyou1",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "welcome123",
        "abc12345",
        "abcd1234",
        "abcdefgh",
        "letmein1",
        "trustno1",
        "starwars",
        "superman",
        "batman123",
        "dragon123",
        "monkey123",
        "michael1",
        "jennifer",
        "computer",
        "whatever",
        "freedom1",
        "internet",
        "shadow12",
        "master123",
        "changeme",
        "changeme1",
        "administrator",
        "admin123",
        "admin1234",
        "secret123",
        "qwertyqwerty",
        "123qweasd",
        "1234qwer",
        "q1w2e3r4",
        "q1w2e3r4t5",
        "aa123456",
        "a1234567",
        "987654321",
        "123123123",
        "123321123",
        "55555555",
        "66666666",
        "77777777",
        "88888888",
        "99999999",
        "22222222",
        "33333333",
        "44444444",
        "football1",
        "passport",
        "summer2024",
        "summer2025",
        "winter2024",
        "winter2025",
        "spring2025",
        "autumn2025",
        "company1",
        "letmein123",
        "default1",
        "temp1234",
        "test1234",
        "testtest",
        "guest123",
        "login123",
    ]
)


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def password_problems(password: str, *, first_name: str, last_name: str, email: str) -> list[str]:
    """Policy (NIST SP 800-63B style): 8 to 64 characters, not a common password and
    not built on the user's own name or email; no composition rules beyond that."""
    problems: list[str] = []
    n = len(password)
    if n < PASSWORD_MIN or n > PASSWORD_MAX:
        problems.append(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
        return problems
    low = _norm(password)
    if low in COMMON_PASSWORDS or low.rstrip("!.1") in COMMON_PASSWORDS:
        problems.append("is a commonly used password")
    local = _norm(email.split("@", 1)[0])
    personal = [_norm(first_name), _norm(last_name), local]
    if any(len(p) >= 3 and p in low for p in personal):
        problems.append("must not contain the user's name or email")
    return problems


def pin_problems(pin: str, extension_number: str | None = None) -> list[str]:
    if not (pin.isascii() and pin.isdigit()):
        return ["must be ASCII digits only"]
    if not PIN_MIN <= len(pin) <= PIN_MAX:
        return [f"must be {PIN_MIN} to {PIN_MAX} digits"]
    if len(set(pin)) == 1:
        return ["must not be one digit repeated"]
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    if steps in ({1}, {9}):
        return ["must not be an ascending or descending run"]
    for period in range(2, len(pin) // 2 + 1):
        unit = pin[:period]
        if (unit * (len(pin) // period + 1))[: len(pin)] == pin:
            return ["must not be a short repeated pattern"]
    if extension_number is not None and pin == extension_number:
        return ["must not be the user's extension number"]
    return []


def normalize_answer(answer: str) -> str:
    """Security answers compare case-insensitively and ignore surrounding/double spaces."""
    return " ".join(_norm(answer).split())


def answer_problems(answer: str) -> list[str]:
    if len(normalize_answer(answer)) < ANSWER_MIN:
        return [f"must be at least {ANSWER_MIN} characters"]
    return []


# --- invite schedules -----------------------------------------------------------

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")


def schedule_instant(
    local: str, zone: str, now: datetime, horizon: timedelta = SCHEDULE_HORIZON
) -> datetime:
    """The UTC instant of a local date-time in an IANA zone.

    Refused: a value with an offset (only local time plus zone), a wall time that does
    not exist (DST gap), the past, and beyond the horizon. An ambiguous wall time (DST
    fold) means its earlier instant."""
    if not _LOCAL.match(local):
        raise ValueError("must be a local date-time 'YYYY-MM-DDTHH:MM[:SS]' without offset")
    try:
        naive = datetime.fromisoformat(local)
    except ValueError as exc:
        raise ValueError("is not a valid date-time") from exc
    tz = ZoneInfo(zone)
    aware = naive.replace(tzinfo=tz, fold=0)
    instant = aware.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(f"does not exist in {zone} (the clocks skip it for daylight saving)")
    if instant <= now:
        raise ValueError("is in the past")
    if instant > now + horizon:
        raise ValueError(f"is more than {horizon.days} days ahead")
    return instant


# --- extensions -----------------------------------------------------------------


def extension_range(length: int) -> tuple[int, int]:
    """Automatic numbers of an account with ``length`` digits: from 10^(length-1)+1
    (101, 1001, ...) to the largest number of that length; 10^(length-1) itself is
    left for the company's main extension."""
    return 10 ** (length - 1) + 1, 10**length - 1


def extension_problem(number: str, length: int) -> str | None:
    if not (number.isascii() and number.isdigit()) or len(number) != length:
        return f"must be {length} digits"
    if number[0] == "0":
        return "must not start with 0"
    return None


def item_needs_purchase(source: str | None) -> bool:
    return source == "purchase"


# --- lifecycle: emergency location, inventory held, phones, search ------------------

# Types that make calls at all, so an emergency location matters (DOMAIN.md 6): a
# standard user, and a Free user (it places calls with RingOut). Video Pro+ and Mobile
# make no calls and are never blocked.
EMERGENCY_TYPES = frozenset({"standard", "free"})


def calling_blocked(user_type: str, has_location: bool) -> bool:
    """Calling stays blocked for a calling type until its emergency location is set."""
    return user_type in EMERGENCY_TYPES and not has_location


def held(user_type: str, profile: dict[str, object]) -> dict[str, str | None]:
    """What a user holds from inventory: ``{license, number, device_id}`` (None: none)."""
    phone = profile.get("phone")
    number = profile.get("phone_number")
    device = phone.get("device_id") if isinstance(phone, dict) else None
    num = number.get("number") if isinstance(number, dict) else None
    return {
        "license": user_type if profile.get("license") else None,
        "number": str(num) if num else None,
        "device_id": str(device) if device else None,
    }


def released(before: dict[str, str | None], after: dict[str, str | None]) -> dict[str, str | None]:
    """What went back to inventory between two holdings: each item held before and no
    longer held (a license goes back when the type it was for changes)."""
    return {k: before[k] if before[k] and before[k] != after.get(k) else None for k in before}


def local_phone(value: str, country: str | None) -> str:
    """A phone number in E.164: already so, or a local format of the account's country
    (``(617) 555-0199`` on a US account). ValueError when it is not a valid number."""
    try:
        num = phonenumbers.parse(value, None if value.startswith("+") else (country or None))
    except phonenumbers.NumberParseException as exc:
        where = country or "a known country"
        raise ValueError(f"'{value}' is not a phone number of {where}") from exc
    if not phonenumbers.is_valid_number(num):
        raise ValueError(f"'{value}' is not a valid phone number")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def fold(text: str) -> str:
    """Search form: accents dropped, case folded ("Élodie" -> "elodie")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def search_text(first_name: str, last_name: str, email: str) -> str:
    """What the user search matches a query against (stored, indexed)."""
    return f"{fold(first_name)} {fold(last_name)} | {fold(email)}"
