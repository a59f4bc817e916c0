"""Inventory (DOMAIN.md section 1): licenses per user type, phone numbers, desk phones;
the licenses an allocation takes or buys; phone numbers issued for a country."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

import phonenumbers
from shared.errors import ValidationFailed

from account.domain.accounts import plan_allows
from account.domain.pricing import LICENSED_USER_TYPES


@dataclass(frozen=True, slots=True)
class LicensePool:
    """The licenses of one user type an account holds: ``allocated`` of ``total``."""

    user_type: str
    total: int
    allocated: int

    @property
    def free(self) -> int:
        return self.total - self.allocated


@dataclass(frozen=True, slots=True)
class Number:
    """A phone number (E.164) of the account: ``free`` or ``allocated`` to a user."""

    number: str
    status: str
    allocation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A desk phone of the account: ``free`` or ``allocated`` to a user."""

    id: str
    model: str
    status: str
    allocation_id: str | None = None


@dataclass(frozen=True)
class Inventory:
    """An account's licenses per user type, numbers and desk phones (DOMAIN.md 1)."""

    licenses: list[LicensePool]
    numbers: list[Number]
    devices: list[Device]

    def free_licenses(self) -> dict[str, int]:
        """Free licenses of every licensed user type, zero for those never bought."""
        return {t: 0 for t in LICENSED_USER_TYPES} | {p.user_type: p.free for p in self.licenses}

    def free_numbers(self) -> int:
        return sum(1 for n in self.numbers if n.status == "free")

    def free_devices(self) -> int:
        return sum(1 for d in self.devices if d.status == "free")


# --- allocation ------------------------------------------------------------------


@dataclass
class LicenseTally:
    """The licenses one allocation needs, by user type: ``taken`` from the free pool
    (all or nothing, per type) or ``bought`` (a charge each). The plan decides which
    user types may be added; ``mobile`` and ``free`` users take no license."""

    plan: str
    taken: Counter[str] = field(default_factory=Counter)
    bought: Counter[str] = field(default_factory=Counter)

    def add(self, user_type: str, purchase: bool, index: int) -> bool:
        """Count one user of ``user_type``; False when that type takes no license."""
        if not plan_allows(self.plan, user_type):
            raise ValidationFailed.single(
                f"items[{index}].user_type",
                f"The {self.plan} plan does not allow '{user_type}' users.",
                index=index,
            )
        if user_type not in LICENSED_USER_TYPES:
            return False
        (self.bought if purchase else self.taken)[user_type] += 1
        return True

    def held(self) -> dict[str, int]:
        """What the allocation holds, by type: given back when it is released."""
        return dict(self.taken + self.bought)


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


def e164_prefix(country: str, area_code: str | None) -> str | None:
    """The E.164 start of numbers in an area code (``+1415``), or None for any."""
    if not area_code:
        return None
    return f"+{phonenumbers.country_code_for_region(country)}{area_code}"
