"""The account's typed rules: the Account aggregate and an allocation's licenses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from account import domain
from shared.errors import Conflict, ValidationFailed


def account(**fields: Any) -> domain.Account:
    base = domain.Account(
        id="acc_1",
        name="Acme",
        country="GB",
        plan="core",
        status="Active",
        multi_site=False,
        extension_length=4,
        settings=domain.default_settings("GB"),
    )
    return replace(base, **fields)


def test_sites_and_cost_centers_need_a_multi_site_account() -> None:
    with pytest.raises(Conflict) as err:
        account().require_multi_site("Cost centers")
    assert "Cost centers exist only on multi-site accounts" in err.value.message
    assert err.value.details == {"account_id": "acc_1", "multi_site": False}
    account(multi_site=True).require_multi_site("Cost centers")


def test_a_closed_account_refuses_changes_and_only_an_active_one_buys() -> None:
    with pytest.raises(Conflict):
        account(status="Closed").require_open()
    account(status="Suspended").require_open()
    with pytest.raises(Conflict):
        account(status="Suspended").require_can_buy()
    account().require_can_buy()


def test_settings_after_a_change_are_validated_whole_and_none_when_unchanged() -> None:
    acc = account()
    assert acc.settings_after({"default_time_zone": acc.default_time_zone}) is None
    changed = acc.settings_after({"default_time_zone": "Europe/Dublin"})
    assert changed is not None and changed["default_time_zone"] == "Europe/Dublin"
    with pytest.raises(ValidationFailed):
        acc.settings_after({"agent_states": [{"name": "Break", "counts_as_available": False}]})


def test_status_changes_keep_a_reason_except_when_active_and_closed_is_final() -> None:
    assert account().status_after("Suspended", "  unpaid ") == "unpaid"
    assert account(status="Suspended").status_after("Active", "paid") is None
    with pytest.raises(ValidationFailed):
        account().status_after("Suspended", None)
    with pytest.raises(Conflict):
        account(status="Closed").status_after("Active", None)


def test_license_tally_counts_taken_and_bought_licenses_by_type() -> None:
    tally = domain.LicenseTally("advanced")
    assert tally.add("standard", purchase=False, index=0)
    assert tally.add("standard", purchase=True, index=1)
    assert tally.add("video_pro_plus", purchase=False, index=2)
    assert not tally.add("mobile", purchase=True, index=3)  # takes no license
    assert dict(tally.taken) == {"standard": 1, "video_pro_plus": 1}
    assert dict(tally.bought) == {"standard": 1}
    assert tally.held() == {"standard": 2, "video_pro_plus": 1}


def test_license_tally_refuses_a_type_the_plan_does_not_allow() -> None:
    with pytest.raises(ValidationFailed) as err:
        domain.LicenseTally("core").add("video_pro_plus", purchase=False, index=4)
    assert err.value.details["errors"][0]["field"] == "items[4].user_type"


def test_an_allocation_replays_its_reply_for_its_own_account_only() -> None:
    held = domain.Allocation("req_1", "acc_1", "allocated", {"standard": 1}, {"items": []})
    assert held.replay_for("acc_1") == {"items": []}
    with pytest.raises(Conflict) as err:
        held.replay_for("acc_2")
    assert "belongs to another request" in err.value.message


def test_an_allocation_refused_by_an_earlier_release_is_a_conflict_on_retry() -> None:
    tombstone = domain.Allocation("req_1", "acc_1", "released")
    assert tombstone.released and not tombstone.was_allocated
    with pytest.raises(Conflict) as err:
        tombstone.replay_for("acc_1")
    assert "already released" in err.value.message
