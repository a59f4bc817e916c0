"""The agent aggregate: what follows the phone system, what the admin assigns, and
what Engage Voice refuses."""

from __future__ import annotations

from engage_import.domain.model import Agent, DirectoryUser, EngageLink, voice_refusal

LINK = EngageLink("eng_1", "Support", "acc_1", "Europe/Paris", "fr-FR")
AGENT = Agent(
    id="agt_1",
    engage_account_id="eng_1",
    account_id="acc_1",
    user_id="usr_1",
    first_name="Jane",
    last_name="Doe",
    email="jane@example.com",
    username="jane",
    role_id="agent",
    team_ids=("tea_1",),
    category_ids=(),
    time_zone="America/New_York",
    language="en-US",
    time_zone_mapping={"source": "America/New_York", "value": "America/New_York", "rule": "exact"},
    language_mapping={"source": "en-US", "value": "en-US", "rule": "exact"},
)
USER = DirectoryUser(
    user_id="usr_1",
    account_id="acc_1",
    first_name="Jane",
    last_name="Doe",
    email="jane@example.com",
    status="Enabled",
    time_zone="America/New_York",
    language="en-US",
)


def test_an_unchanged_user_changes_nothing() -> None:
    assert AGENT.follow(USER, LINK) == (AGENT, [])


def test_names_email_and_mapped_zone_and_language_follow_the_user() -> None:
    user = DirectoryUser(**{**USER.__dict__, "email": "J@x.com", "time_zone": "US/Pacific"})
    new, changed = AGENT.follow(user, LINK)
    assert changed == ["email", "time_zone"]
    assert (new.email, new.time_zone) == ("J@x.com", "America/Los_Angeles")
    assert new.time_zone_mapping["rule"] == "mapped"
    assert new.username == "jane" and new.voice_login == "j@x.com"
    assert new.values(changed)["time_zone_mapping"] == new.time_zone_mapping


def test_a_new_source_with_the_same_value_is_still_reported() -> None:
    user = DirectoryUser(**{**USER.__dict__, "time_zone": "US/Eastern"})
    new, changed = AGENT.follow(user, LINK)
    assert changed == ["time_zone"] and new.time_zone == AGENT.time_zone


def test_an_unmappable_zone_falls_back_to_the_engage_accounts_default() -> None:
    user = DirectoryUser(**{**USER.__dict__, "time_zone": None, "language": "xx"})
    new, _ = AGENT.follow(user, LINK)
    assert (new.time_zone, new.language) == ("Europe/Paris", "fr-FR")


def test_a_disabled_user_disables_the_agent_and_enabling_it_reverses_that() -> None:
    off, changed = AGENT.follow(DirectoryUser(**{**USER.__dict__, "status": "Disabled"}), LINK)
    assert (off.status, changed) == ("Disabled", ["status"])
    on, changed = off.follow(USER, LINK)
    assert (on.status, changed) == ("Enabled", ["status"])


def test_assign_changes_only_what_is_given_once_each() -> None:
    new, changed = AGENT.assign(role_id="manager", category_ids=["c", "c"])
    assert changed == ["role_id", "category_ids"]
    assert (new.role_id, new.team_ids, new.category_ids) == ("manager", ("tea_1",), ("c",))
    assert AGENT.assign(role_id="agent") == (AGENT, [])


def test_voice_refuses_disabled_removed_and_suspended() -> None:
    assert voice_refusal(AGENT, USER, "Active") is None
    assert voice_refusal(AGENT, None, None) is None
    disabled = DirectoryUser(**{**USER.__dict__, "status": "Disabled"})
    assert voice_refusal(AGENT, disabled, "Active") == "agent_disabled"
    off, _ = AGENT.follow(disabled, LINK)
    assert voice_refusal(off, USER, "Active") == "agent_disabled"
    removed = DirectoryUser(**{**USER.__dict__, "removed": True})
    assert voice_refusal(AGENT, removed, "Active") == "user_removed"
    assert voice_refusal(AGENT, USER, "Suspended") == "account_not_active"
    assert voice_refusal(AGENT, USER, "Closed") == "account_not_active"
