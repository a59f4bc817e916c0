"""The stack `make run` starts is closed: its NATS refuses anonymous connections, its
credential and key files are readable by their owner only, and identity's signing key
is in identity's process alone (issue 9, items 1 and 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nats
import nats.errors
import pytest
from devstack.stack import read_env_file

from tests.e2e.conftest import E2E


async def test_the_stack_refuses_anonymous_connections(e2e: E2E) -> None:
    with pytest.raises(nats.errors.Error) as caught:
        await nats.connect(
            e2e.env["NATS_URL"], allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )
    assert "authorization violation" in str(caught.value).lower()


async def test_the_client_credentials_in_the_env_file_sign_in(e2e: E2E) -> None:
    env = read_env_file(e2e.stack.env_file)
    for name in (
        "NATS_URL",
        "NATS_USER",
        "NATS_PASSWORD",
        "NATS_INBOX_PREFIX",
        "INGEST_NATS_USER",
        "INGEST_NATS_PASSWORD",
        "INGEST_NATS_INBOX_PREFIX",
        "OBSERVER_NATS_USER",
        "OBSERVER_NATS_PASSWORD",
        "OBSERVER_NATS_INBOX_PREFIX",
        "OPERATOR_EMAIL",
        "OPERATOR_PASSWORD",
    ):
        assert env.get(name), name
    assert "TOKEN_PRIVATE_KEY" not in env and "INTERNAL_KEY" not in env
    nc = await nats.connect(
        env["NATS_URL"],
        user=env["NATS_USER"],
        password=env["NATS_PASSWORD"],
        inbox_prefix=env["NATS_INBOX_PREFIX"],
    )
    try:
        msg = await nc.request("identity.v1.health", b"{}", timeout=10)
        assert b'"status":"ok"' in msg.data.replace(b" ", b"")
    finally:
        await nc.close()


async def test_env_and_key_files_are_private(e2e: E2E) -> None:
    root = e2e.stack.root
    files = [root / "env", root / "keys.json", root / "operator.json", root / "nats-users.json"]
    files.append(root / "nats-auth.conf")
    for f in files:
        assert f.exists(), f
        assert f.stat().st_mode & 0o077 == 0, f"{f} is readable by others"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(
        item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
    )


async def test_only_identity_holds_the_signing_key_and_each_service_its_own_user(
    e2e: E2E,
) -> None:
    prefixes = {
        "account": "ACCOUNT_",
        "identity": "IDENTITY_",
        "invite-scheduler": "INVITES_",
        "engage-import": "ENGAGE_",
    }
    for name, proc in e2e.stack.services.items():
        env = _environ(proc.pid)
        holds_key = "TOKEN_PRIVATE_KEY" in env
        assert holds_key == (name == "identity"), name
        assert "OPERATOR_PASSWORD" not in env or name == "identity", name
        nats_vars = {k for k in env if "NATS_" in k and k != "NATS_URL"}
        own = prefixes[name]
        assert nats_vars and all(k.startswith(own) for k in nats_vars), (name, nats_vars)


def test_devstack_req_connects_as_the_client_from_the_env_file(e2e: E2E) -> None:
    env = {k: v for k, v in os.environ.items() if "NATS_" not in k}
    r = subprocess.run(
        [sys.executable, "-m", "devstack", "req", "engage.v1.health", "--dir", str(e2e.stack.root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"status": "ok"' in r.stdout
