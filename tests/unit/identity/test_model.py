"""The identity aggregates (identity.domain.model): each DOMAIN.md rule in one place."""

from __future__ import annotations

from typing import Any

from identity.domain.model import (
    EMAIL_TAKEN_ELSEWHERE,
    EMAIL_TAKEN_HERE,
    Account,
    Credentials,
    Plan,
)

ROW: dict[str, Any] = {
    "account_id": "acc_1",
    "plan": "core",
    "status": "Active",
    "multi_site": False,
    "extension_length": 4,
    "require_unique_email": False,
    "default_role_id": None,
    "facts": {
        "user_types": ["standard", "mobile"],
        "country": "US",
        "default_language": "fr-FR",
        "regional_format": None,
        "default_time_zone": "Europe/Paris",
    },
}


def test_the_plan_decides_the_user_types() -> None:
    plan = Plan.from_row(ROW)
    assert plan.user_type_problem("mobile") is None
    assert plan.user_type_problem("free") == "the 'core' plan does not allow 'free' users"


def test_an_email_is_one_user_per_account_and_across_accounts_when_unique() -> None:
    acc = Account.from_row(ROW)
    here = {"email": "ada@example.com", "account_id": "acc_1", "exclusive_email": False}
    there = {"email": "ada@example.com", "account_id": "acc_2", "exclusive_email": False}
    assert acc.email_problem("Ada@Example.com", [here]) == EMAIL_TAKEN_HERE
    assert acc.email_problem("ada@example.com", [there]) is None
    assert acc.email_problem("ada@example.com", [there | {"exclusive_email": True}]) == (
        EMAIL_TAKEN_ELSEWHERE
    )
    unique = Account.from_row(ROW | {"require_unique_email": True})
    assert unique.email_problem("ada@example.com", [there]) == EMAIL_TAKEN_ELSEWHERE
    assert unique.invitations_allowed and not acc.invitations_allowed


def test_sites_exist_only_on_multi_site_accounts() -> None:
    assert Account.from_row(ROW).site_problem("site_1", {"site_1": None})
    multi = Account.from_row(ROW | {"multi_site": True})
    assert multi.site_problem("site_1", {"site_1": None}) is None
    assert multi.site_problem("site_2", {"site_1": None}) == "no such site in this account"


def test_regional_settings_fall_back_to_the_site_then_the_account() -> None:
    acc = Account.from_row(ROW)
    assert acc.regional({}, None) == {
        "language": "fr-FR",
        "greeting_language": "fr-FR",
        "regional_format": "fr-FR",
        "time_zone": "Europe/Paris",
    }
    given = {"language": "en-GB", "time_zone": None}
    assert acc.regional(given, "America/New_York")["time_zone"] == "America/New_York"
    assert acc.regional(given, None)["greeting_language"] == "en-GB"


def test_credentials_report_every_problem_on_its_field() -> None:
    creds = Credentials("password", "123456", "abc")
    found = creds.problems(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        extension_number="1001",
        prefix="setup.",
    )
    assert [f for f, _ in found] == ["setup.password", "setup.pin", "setup.security_answer"]
    assert Credentials(pin="480213").problems(
        first_name="Ada", last_name="Lovelace", email="a@x.io", extension_number="480213"
    ) == [("pin", "must not be the user's extension number")]
    assert Credentials().problems(first_name="A", last_name="B", email="c@d.io") == []
