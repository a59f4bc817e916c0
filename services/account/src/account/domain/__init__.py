"""The account service's rules: pure, no I/O, no framework. One module per area, so
each rule of DOMAIN.md has one obvious home:

- ``accounts``: defaults by country, settings, plan -> user types, statuses, and the
  ``Account`` aggregate (open, can buy, multi-site only for sites and cost centers);
- ``allocation``: ``Allocation`` (what one allocate request took, replayed on retry);
- ``inventory``: ``Inventory`` (license pools, numbers, devices), ``LicenseTally``
  (what an allocation takes or buys), numbers issued for a country;
- ``pricing``: the price list and currencies;
- ``metering``: the free-user threshold and billing cycle;
- ``portals``: link codes and the service status of a linked account.

Everything is re-exported here: ``from account import domain`` then ``domain.X``."""

from account.domain.accounts import (
    COUNTRY_DEFAULTS,
    DEFAULT_AGENT_STATES,
    PLAN_CATALOGUE,
    Account,
    Site,
    check_settings,
    check_status_change,
    default_settings,
    merge_settings,
    plan_allows,
    require_no_users_on,
    user_types_for,
)
from account.domain.allocation import Allocation
from account.domain.inventory import (
    Device,
    Inventory,
    LicensePool,
    LicenseTally,
    Number,
    e164_prefix,
    number_candidates,
    number_matches,
)
from account.domain.metering import (
    FREE_CALLS_PER_CYCLE,
    billing_cycle,
    overage_due,
)
from account.domain.portals import (
    LINK_CODE_TTL,
    PENDING_INVITE_STATUSES,
    Portal,
    hash_link_code,
    new_link_code,
    service_status,
)
from account.domain.pricing import (
    CURRENCY_BY_COUNTRY,
    DEVICE_MODELS,
    LICENSED_USER_TYPES,
    PRICE_LIST,
    canonical_model,
    currency_for,
    device_item,
    license_item,
    money,
    price,
)

__all__ = [
    "COUNTRY_DEFAULTS",
    "CURRENCY_BY_COUNTRY",
    "DEFAULT_AGENT_STATES",
    "DEVICE_MODELS",
    "FREE_CALLS_PER_CYCLE",
    "LICENSED_USER_TYPES",
    "LINK_CODE_TTL",
    "PENDING_INVITE_STATUSES",
    "PLAN_CATALOGUE",
    "PRICE_LIST",
    "Account",
    "Allocation",
    "Device",
    "Inventory",
    "LicensePool",
    "LicenseTally",
    "Number",
    "Portal",
    "Site",
    "billing_cycle",
    "canonical_model",
    "check_settings",
    "check_status_change",
    "currency_for",
    "default_settings",
    "device_item",
    "e164_prefix",
    "hash_link_code",
    "license_item",
    "merge_settings",
    "money",
    "new_link_code",
    "number_candidates",
    "number_matches",
    "overage_due",
    "plan_allows",
    "price",
    "require_no_users_on",
    "service_status",
    "user_types_for",
]
