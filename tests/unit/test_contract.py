"""The public contract stays intact: every subject of CONTRACT.md is served, and
docs/asyncapi.json is what the code generates today."""

from __future__ import annotations

import json
from pathlib import Path

from shared.asyncapi import build

ROOT = Path(__file__).resolve().parents[2]

CONTRACT_SUBJECTS = [
    # account
    "account.v1.accounts.create",
    "account.v1.accounts.get",
    "account.v1.accounts.list",
    "account.v1.accounts.update_settings",
    "account.v1.accounts.set_status",
    "account.v1.sites.create",
    "account.v1.sites.list",
    "account.v1.cost_centers.create",
    "account.v1.cost_centers.list",
    "account.v1.inventory.get",
    "account.v1.inventory.purchase",
    "account.v1.inventory.allocate",
    "account.v1.portals.create",
    "account.v1.portals.link",
    "account.v1.portals.link_code",
    "account.v1.portals.unlink",
    "account.v1.portals.overview",
    "account.v1.portals.switch",
    # account, lifecycle additions
    "account.v1.sites.update",
    "account.v1.sites.remove",
    "account.v1.portals.list",
    # identity
    "identity.v1.users.add",
    "identity.v1.users.get",
    "identity.v1.users.list",
    "identity.v1.users.update",
    "identity.v1.users.set_emergency_location",
    "identity.v1.extensions.create",
    "identity.v1.extensions.list",
    "identity.v1.extensions.assign",
    "identity.v1.emails.check",
    "identity.v1.roles.list",
    "identity.v1.roles.create",
    "identity.v1.auth.login",
    "identity.v1.auth.change_password",
    "identity.v1.activation.complete",
    # invites
    "invites.v1.send",
    "invites.v1.schedule",
    "invites.v1.reschedule",
    "invites.v1.cancel",
    "invites.v1.resend",
    "invites.v1.get",
    "invites.v1.list",
    # engage
    "engage.v1.links.create",
    "engage.v1.candidates.list",
    "engage.v1.agents.import",
    "engage.v1.imports.get",
    "engage.v1.agents.list",
    "engage.v1.agents.get",
    "engage.v1.roles.list",
    "engage.v1.roles.create",
    "engage.v1.teams.list",
    "engage.v1.teams.create",
    "engage.v1.categories.list",
    "engage.v1.categories.create",
    "engage.v1.voice.sign_in",
    "engage.v1.voice.sign_out",
    # health
    "account.v1.health",
    "identity.v1.health",
    "invites.v1.health",
    "engage.v1.health",
]

PUBLIC = {
    "identity.v1.auth.login",
    "identity.v1.activation.complete",
    "identity.v1.recovery.start",
    "identity.v1.recovery.complete",
    "account.v1.health",
    "identity.v1.health",
    "invites.v1.health",
    "engage.v1.health",
}


def test_every_contract_subject_is_served() -> None:
    doc = build()
    served = {ch["address"] for ch in doc["channels"].values()}
    missing = [s for s in CONTRACT_SUBJECTS if s not in served]
    assert not missing, missing


def test_only_the_contracts_public_subjects_need_no_token() -> None:
    doc = build()
    public = {
        doc["channels"][k]["address"]
        for k, op in doc["operations"].items()
        if "Auth: public" in op.get("description", "")
    }
    assert public == PUBLIC


def test_generated_asyncapi_document_is_up_to_date() -> None:
    committed = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    assert committed == json.loads(json.dumps(build(), default=str)), "run `make docs`"
