"""The price list: what each license, number, desk phone and overage costs, by currency."""

from __future__ import annotations

CURRENCY_BY_COUNTRY: dict[str, str] = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "AU": "AUD",
    "FR": "EUR",
    "DE": "EUR",
    "IE": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
}

LICENSED_USER_TYPES: tuple[str, ...] = ("standard", "video_pro_plus")
"""User types that take one license of their type; ``mobile`` and ``free`` take none."""

DEVICE_MODELS: tuple[str, ...] = ("Poly VVX 450", "Yealink T54W", "Cisco 8851", "Yealink W73P")

# Monthly or one-off prices in minor units (cents, pence) per currency.
PRICE_LIST: dict[str, dict[str, int]] = {
    "USD": {
        "license:standard": 3000,
        "license:video_pro_plus": 1500,
        "number": 500,
        "device:Poly VVX 450": 19900,
        "device:Yealink T54W": 17900,
        "device:Cisco 8851": 24900,
        "device:Yealink W73P": 12900,
        "free_user_overage": 3000,
    },
    "GBP": {
        "license:standard": 2500,
        "license:video_pro_plus": 1200,
        "number": 400,
        "device:Poly VVX 450": 16900,
        "device:Yealink T54W": 14900,
        "device:Cisco 8851": 20900,
        "device:Yealink W73P": 10900,
        "free_user_overage": 2500,
    },
    "EUR": {
        "license:standard": 2800,
        "license:video_pro_plus": 1400,
        "number": 450,
        "device:Poly VVX 450": 18900,
        "device:Yealink T54W": 16900,
        "device:Cisco 8851": 22900,
        "device:Yealink W73P": 11900,
        "free_user_overage": 2800,
    },
    "CAD": {
        "license:standard": 4000,
        "license:video_pro_plus": 2000,
        "number": 700,
        "device:Poly VVX 450": 26900,
        "device:Yealink T54W": 23900,
        "device:Cisco 8851": 32900,
        "device:Yealink W73P": 16900,
        "free_user_overage": 4000,
    },
    "AUD": {
        "license:standard": 4500,
        "license:video_pro_plus": 2200,
        "number": 800,
        "device:Poly VVX 450": 29900,
        "device:Yealink T54W": 26900,
        "device:Cisco 8851": 36900,
        "device:Yealink W73P": 18900,
        "free_user_overage": 4500,
    },
}


def currency_for(country: str) -> str:
    return CURRENCY_BY_COUNTRY.get(country, "USD")


def price(country: str, item: str) -> tuple[int, str]:
    """(unit price in minor units, currency) of a price-list item for an account's country."""
    cur = currency_for(country)
    return PRICE_LIST[cur][item], cur


def money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def license_item(user_type: str) -> str:
    return f"license:{user_type}"


def device_item(model: str) -> str:
    return f"device:{model}"


def canonical_model(model: str) -> str | None:
    folded = model.strip().casefold()
    for m in DEVICE_MODELS:
        if m.casefold() == folded:
            return m
    return None
