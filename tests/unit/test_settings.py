"""Settings (shared.settings): every service reads ``NAME`` and its own
``<PREFIX>NAME`` through pydantic-settings' sources, and honours every shared setting."""

from __future__ import annotations

import pytest
from account.config import AccountConfig
from account.main import build_service as build_account
from engage_import.config import EngageImportConfig
from engage_import.main import build_service as build_engage
from identity.config import IdentityConfig
from identity.main import build_service as build_identity
from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.main import build_service as build_invites
from shared.auth import generate_keypair
from shared.db import database_url_for

CONFIGS = [AccountConfig, IdentityConfig, InviteSchedulerConfig, EngageImportConfig]


def test_the_prefixed_variable_wins_for_its_service_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_TIMEOUT", "9")
    monkeypatch.setenv("IDENTITY_REQUEST_TIMEOUT", "3")
    monkeypatch.setenv("ENGAGE_IMPORT_CHUNK_SIZE", "42")
    assert IdentityConfig().request_timeout == 3
    assert AccountConfig().request_timeout == 9
    assert EngageImportConfig().import_chunk_size == 42
    # arguments still win over the environment
    assert IdentityConfig(request_timeout=1.5).request_timeout == 1.5


def test_a_prefixed_database_url_is_the_services_own_database_as_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/server")
    monkeypatch.setenv("IDENTITY_DATABASE_URL", "postgresql://id@other:5432/mine")
    assert IdentityConfig().service_database_url == "postgresql://id@other:5432/mine"
    assert AccountConfig().service_database_url == database_url_for(
        "postgresql://u@db:5432/server", "account"
    )


def test_a_bad_prefixed_value_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNT_CONSUMER_MAX_DELIVER", "zero")
    with pytest.raises(ValueError, match="consumer_max_deliver"):
        AccountConfig()


@pytest.mark.parametrize(
    ("config", "build"),
    [
        (AccountConfig, build_account),
        (IdentityConfig, build_identity),
        (InviteSchedulerConfig, build_invites),
        (EngageImportConfig, build_engage),
    ],
)
def test_every_consumer_of_every_service_honours_consumer_max_deliver(
    config: type, build: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSUMER_MAX_DELIVER", "4")
    priv, pub = generate_keypair()
    extra = {"token_private_key": priv} if "token_private_key" in config.model_fields else {}  # type: ignore[attr-defined]
    cfg = config(token_public_key=pub, database_url="postgresql://x@localhost/x", **extra)
    svc = build(cfg)  # type: ignore[operator]
    assert svc.subscriptions
    assert {sub.max_deliver for sub in svc.subscriptions} == {4}
