"""Use cases of the account service, one module per area: ``async def (cmd, uow,
p) -> reply``. Everything the entrypoints call is re-exported here, so
``from account import handlers as h`` reaches every use case."""

from account.handlers.accounts import (
    account_facts,
    create_account,
    get_account,
    list_accounts,
    list_plans,
    set_status,
    to_account,
    update_settings,
)
from account.handlers.allocation import allocate, release
from account.handlers.common import SOURCE, UowFactory, to_charge
from account.handlers.inventory import get_inventory, list_charges, purchase
from account.handlers.metering import call_id_of, on_call_completed
from account.handlers.portals import (
    create_portal,
    issue_link_code,
    link_account,
    list_portals,
    portal_overview,
    switch_account,
    to_portal,
    unlink_account,
)
from account.handlers.projections import on_invite_events, on_user_events
from account.handlers.sites import (
    create_cost_center,
    create_site,
    list_cost_centers,
    list_sites,
    remove_site,
    update_site,
)

__all__ = [
    "SOURCE",
    "UowFactory",
    "account_facts",
    "allocate",
    "call_id_of",
    "create_account",
    "create_cost_center",
    "create_portal",
    "create_site",
    "get_account",
    "get_inventory",
    "issue_link_code",
    "link_account",
    "list_accounts",
    "list_charges",
    "list_cost_centers",
    "list_plans",
    "list_portals",
    "list_sites",
    "on_call_completed",
    "on_invite_events",
    "on_user_events",
    "portal_overview",
    "purchase",
    "release",
    "remove_site",
    "set_status",
    "switch_account",
    "to_account",
    "to_charge",
    "to_portal",
    "unlink_account",
    "update_settings",
    "update_site",
]
