"""The NATS permission table (shared.natsconf) matches the code: every internal
subject is listed, every service's streams and durable consumers are granted, and
nats-server accepts the generated configuration."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from shared.asyncapi import SERVICES as BUILDS
from shared.auth import generate_keypair
from shared.service import Service

from shared import keys, natsconf


def services() -> dict[str, Service]:
    priv, pub = generate_keypair()
    out = {}
    for _name, main_mod, cfg_mod, cfg_cls in BUILDS:
        cfg_type = getattr(importlib.import_module(cfg_mod), cfg_cls)
        extra = {"token_private_key": priv} if "token_private_key" in cfg_type.model_fields else {}
        cfg = cfg_type(token_public_key=pub, database_url="postgresql://x@localhost/x", **extra)
        svc = importlib.import_module(main_mod).build_service(cfg)
        out[svc.queue] = svc
    return out


def test_internal_subjects_are_exactly_the_internal_endpoints() -> None:
    internal = {
        ep.subject
        for svc in services().values()
        for ep in svc.rpc.endpoints.values()
        if ep.internal
    }
    assert internal == set(natsconf.INTERNAL_SUBJECTS)


def test_each_service_user_is_granted_its_queue_streams_and_consumers() -> None:
    for queue, svc in services().items():
        grant = natsconf.SERVICES[queue]
        assert grant.user == queue
        role = natsconf.service_role(grant)
        assert f"{grant.requests} {queue}" in role.subscribe_allow
        for ep in svc.rpc.endpoints:
            assert ep.startswith(grant.requests[:-1]), ep
        assert {sp.name for sp in svc.owned_streams} <= set(grant.streams)
        for sub in svc.subscriptions:
            assert (sub.stream, sub.name) in grant.consumers, (queue, sub.name)


def test_the_client_role_may_call_public_subjects_only() -> None:
    assert set(natsconf.CLIENT.publish_deny) == set(natsconf.INTERNAL_SUBJECTS)
    assert natsconf.CLIENT.subscribe_allow == (f"{natsconf.CLIENT.inbox_prefix}.>",)
    assert natsconf.INGEST.publish_allow == ("ingest.>",)


def test_the_observer_role_only_watches_events() -> None:
    obs = natsconf.OBSERVER
    assert obs.publish_allow == () and obs.publish_deny == (">",)
    assert obs.subscribe_allow == ("events.>", "_INBOX_observer.>")
    assert not obs.allow_responses and not obs.unrestricted
    assert obs.permissions() == {
        "publish": {"deny": [">"]},
        "subscribe": {"allow": ["events.>", "_INBOX_observer.>"]},
    }
    assert "observer" in {r.user for r in natsconf.roles()}


def test_nats_server_accepts_the_generated_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "auth.conf"
    natsconf.write_private(conf, natsconf.authorization_block(natsconf.generate(harness=True)))
    assert conf.stat().st_mode & 0o777 == 0o600
    exe = Path(sys.executable).parent / "nats-server"
    r = subprocess.run([str(exe), "-c", str(conf), "-t"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_cli_prints_a_block_without_the_harness(tmp_path: Path) -> None:
    env_out = tmp_path / "nats.env"
    r = subprocess.run(
        [sys.executable, "-m", "shared.natsconf", "--env-out", str(env_out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert r.stdout.startswith("authorization {")
    assert '"harness"' not in r.stdout
    assert env_out.stat().st_mode & 0o777 == 0o600
    names = {line.split("=", 1)[0] for line in env_out.read_text().splitlines()}
    assert {"NATS_USER", "NATS_PASSWORD", "NATS_INBOX_PREFIX", "INGEST_NATS_PASSWORD"} <= names
    assert {"IDENTITY_NATS_PASSWORD", "ACCOUNT_NATS_PASSWORD"} <= names
    assert {"OBSERVER_NATS_USER", "OBSERVER_NATS_PASSWORD", "OBSERVER_NATS_INBOX_PREFIX"} <= names


def test_compose_secrets_are_private_and_the_signing_key_only_identitys(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "out"
    subprocess.run([sys.executable, "-m", "shared.keys", str(state), str(out)], check=True)
    subprocess.run([sys.executable, "-m", "shared.keys", str(state), str(out)], check=True)
    files = [p for p in [*state.rglob("*"), *out.rglob("*")] if p.is_file()]
    # secrets.json, client.env, nats.conf, four service.env, the postgres superuser
    # password and the service roles' passwords
    assert len(files) == 9
    for f in files:
        assert f.stat().st_mode & 0o077 == 0, f
    for user in natsconf.SERVICES:
        text = (out / user / "service.env").read_text()
        assert ("TOKEN_PRIVATE_KEY" in text) == (user == "identity"), user
        assert f"export NATS_USER='{user}'" in text
        prefix, db = keys.DATABASES[user]
        url = next(line for line in text.splitlines() if f"{prefix}DATABASE_URL=" in line)
        assert f"postgresql://{db}:" in url and f":{db}@" not in url  # a generated password
        assert url.split(":")[2].split("@")[0] in (out / "postgres" / "roles.sql").read_text()
    client_env = (state / "client.env").read_text()
    assert "TOKEN_PRIVATE_KEY" not in client_env
    assert "OBSERVER_NATS_USER='observer'" in client_env
    # a state written before the observer role existed gets a stable password for it
    saved = json.loads((state / "secrets.json").read_text())
    password = saved.pop("nats:observer")
    (state / "secrets.json").write_text(json.dumps(saved))
    subprocess.run([sys.executable, "-m", "shared.keys", str(state), str(out)], check=True)
    again = json.loads((state / "secrets.json").read_text())["nats:observer"]
    assert again != password and again in (out / "nats" / "nats.conf").read_text()
    subprocess.run([sys.executable, "-m", "shared.keys", str(state), str(out)], check=True)
    assert json.loads((state / "secrets.json").read_text())["nats:observer"] == again
    exe = Path(sys.executable).parent / "nats-server"
    r = subprocess.run(
        [str(exe), "-c", str(out / "nats" / "nats.conf"), "-t"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_env_lines_are_sourced_by_a_shell_and_read_back(tmp_path: Path) -> None:
    from devstack.stack import read_env_file

    values = {"NATS_PASSWORD": 'it\'s $HOME `x` "q"', "NATS_USER": "client"}
    f = tmp_path / "env"
    natsconf.write_private(f, natsconf.env_lines(values))
    assert read_env_file(f) == values
    out = subprocess.run(
        ["sh", "-c", f'. "{f}"; printf %s "$NATS_PASSWORD"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == values["NATS_PASSWORD"]
