"""docker-compose.yml brought up for real (deploy/local/compose.sh up) and checked as an
operator would: every container healthy, migrations applied once, anonymous NATS
refused, the signing key only in identity's container, the whole flow driven from
outside through the published NATS port with the generated client credentials, a
killed service restarted by its restart policy, and the data surviving `down` + `up`.
The tests run in file order (the last one restarts the stack)."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from shared.errors import AppError

from tests.compose.conftest import COMPOSE_SH, OURS, SERVICES, Deployment, run
from tests.support.system import eventually

OPERATOR_EMAIL = os.environ.get("OPERATOR_EMAIL", "operator@example.com")
DATABASES = {
    "account": "account",
    "identity": "identity",
    "invite-scheduler": "invite_scheduler",
    "engage-import": "engage_import",
}


def test_every_container_is_healthy_and_keys_completed(deployment: Deployment) -> None:
    for service in SERVICES:
        assert deployment.inspect(service, "{{.State.Status}}") == "running", service
        assert deployment.inspect(service, "{{.State.Health.Status}}") == "healthy", service
    assert deployment.inspect("keys", "{{.State.Status}}") == "exited"
    assert deployment.inspect("keys", "{{.State.ExitCode}}") == "0"


def test_migrations_applied_once_per_database(deployment: Deployment) -> None:
    for service, db in DATABASES.items():
        versions = deployment.psql(db, "SELECT version_num FROM alembic_version").split()
        assert len(versions) == 1, (service, versions)
        deployment.state.setdefault("alembic", {})[db] = versions[0]
    # each service's role reaches its own database only
    roles = deployment.psql("postgres", "SELECT datname FROM pg_database ORDER BY 1").split()
    assert set(DATABASES.values()) <= set(roles)


async def test_anonymous_and_wrong_password_connections_are_refused(
    deployment: Deployment,
) -> None:
    url = deployment.env["COMPOSE_NATS_URL"]
    with pytest.raises(Exception) as anon:
        await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False)
    assert "authorization" in str(anon.value).lower() or "auth" in type(anon.value).__name__.lower()
    with pytest.raises(Exception):  # noqa: B017
        await nats.connect(
            url,
            user=deployment.client["NATS_USER"],
            password="not-the-password",
            connect_timeout=5,
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )


def test_the_signing_key_is_only_in_identitys_container(deployment: Deployment) -> None:
    for service in (*SERVICES, "keys"):
        env = deployment.inspect(service, "{{json .Config.Env}}")
        assert "TOKEN_PRIVATE_KEY" not in env, f"{service}: key in the container's config"
    for service in SERVICES:
        # the running process's environment, and the files it can read
        environ = deployment.exec(service, "cat", "/proc/1/environ")
        files = deployment.exec(
            service,
            "sh",
            "-c",
            "grep -rls TOKEN_PRIVATE_KEY /secrets /run /etc 2>/dev/null || true",
        )
        if service == "identity":
            assert "TOKEN_PRIVATE_KEY=" in environ
            assert "/secrets/service.env" in files
        else:
            assert "TOKEN_PRIVATE_KEY" not in environ, service
            assert files.strip() == "", f"{service}: {files}"


def test_the_services_image_is_non_root_without_build_tools(deployment: Deployment) -> None:
    for service in OURS:
        assert deployment.exec(service, "id", "-u").strip() == "10001", service
        check = deployment.inspect(service, "{{json .Config.Healthcheck.Test}}")
        assert "busybox" in check and "python" not in check, check
    tools = deployment.exec(
        "account",
        "sh",
        "-c",
        "for t in uv pip pip3 gcc cc make apt-get; do command -v $t; done; true",
    )
    assert tools.split() in ([], ["/usr/bin/apt-get"]), tools  # the Debian base keeps apt
    pip = deployment.exec(
        "account", "sh", "-c", "python -c 'import pip' 2>/dev/null && echo present || echo absent"
    )
    assert pip.strip() == "absent"


def _activation_token(text: str) -> str:
    m = re.search(r"https?://\S+", text)
    assert m, text
    link = m.group(0).rstrip(".,)>")
    q = re.search(r"[?&]token=([^&\s]+)", link)
    return q.group(1) if q else link.rstrip("/").rsplit("/", 1)[-1]


async def _mail_to(deployment: Deployment, address: str) -> dict[str, Any] | None:
    listing = deployment.mail_api("/api/v1/messages")
    for m in listing["messages"]:
        if any(t["Address"] == address for t in m["To"]):
            full: dict[str, Any] = deployment.mail_api(f"/api/v1/message/{m['ID']}")
            return full
    return None


async def test_from_outside_invite_activate_sign_in_link_engage_import_agent(
    deployment: Deployment, nc: Client
) -> None:
    call = deployment.call
    op = await call(
        nc,
        "identity.v1.auth.login",
        {"email": OPERATOR_EMAIL, "password": deployment.env["OPERATOR_PASSWORD"]},
    )
    op_token = str(op["token"])
    acc = await call(
        nc,
        "account.v1.accounts.create",
        {"name": f"Compose {uuid.uuid4().hex[:6]}", "country": "US", "plan": "ultra"},
        op_token,
    )
    deployment.state["account"] = acc
    email = f"ada.{uuid.uuid4().hex[:10]}@example.com"
    added = await call(
        nc,
        "identity.v1.users.add",
        {
            "account_id": acc["id"],
            "users": [
                {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": email,
                    "user_type": "mobile",
                    "role": "Super Admin",
                    "setup": {"option": "send_invite"},
                }
            ],
        },
        op_token,
    )
    user = added["users"][0]
    assert user["status"] == "NotActivated"

    # the welcome email, read from the SMTP container's store
    mail = await eventually(lambda: _mail_to(deployment, email), timeout=60, interval=1)
    assert str(acc["name"]) in mail["Text"]
    token = _activation_token(mail["Text"])
    activated = await call(
        nc, "identity.v1.activation.complete", {"token": token, "password": "correct horse 1843"}
    )
    assert activated["status"] == "Enabled"
    session = await call(
        nc, "identity.v1.auth.login", {"email": email, "password": "correct horse 1843"}
    )
    assert session["account_id"] == acc["id"]
    admin = str(session["token"])

    async def link() -> dict[str, Any] | None:
        try:
            return await call(
                nc,
                "engage.v1.links.create",
                {"account_id": acc["id"], "engage_account": {"name": f"Engage {acc['name']}"}},
                admin,
            )
        except AppError as err:
            if err.code == "not_found":  # engage-import has not seen the account yet
                return None
            raise

    lnk = await eventually(link, timeout=60, interval=1)
    eid = lnk["engage_account_id"]

    async def candidate() -> bool:
        page = await call(nc, "engage.v1.candidates.list", {"engage_account_id": eid}, admin)
        return any(c["user_id"] == user["id"] for c in page["items"])

    await eventually(candidate, timeout=60, interval=1)
    job = await call(
        nc,
        "engage.v1.agents.import",
        {"engage_account_id": eid, "user_ids": [user["id"]], "role_id": "agent"},
        admin,
    )

    async def finished() -> dict[str, Any] | None:
        got = await call(
            nc, "engage.v1.imports.get", {"engage_account_id": eid, "import_id": job["id"]}, admin
        )
        return got if got["status"] == "finished" else None

    done = await eventually(finished, timeout=60, interval=1)
    assert done["counts"]["imported"] == 1, done
    agent = await call(
        nc, "engage.v1.agents.get", {"engage_account_id": eid, "user_id": user["id"]}, admin
    )
    assert agent["email"] == email
    deployment.state["user"] = {"email": email, "id": user["id"]}


async def test_a_killed_service_is_restarted_by_its_restart_policy(
    deployment: Deployment,
) -> None:
    service = "account"
    before = int(deployment.inspect(service, "{{.RestartCount}}"))
    pid = deployment.inspect(service, "{{.State.Pid}}")
    run("kill", "-KILL", pid)

    async def restarted() -> bool:
        count = int(deployment.inspect(service, "{{.RestartCount}}"))
        health = deployment.inspect(service, "{{.State.Health.Status}}")
        return count > before and health == "healthy"

    await eventually(restarted, timeout=120, interval=2)
    assert deployment.inspect(service, "{{.State.Pid}}") != pid


async def test_data_survives_compose_down_and_up(deployment: Deployment) -> None:
    acc = deployment.state.get("account")
    user = deployment.state.get("user")
    assert acc and user, "runs after the end-to-end flow"
    run(str(COMPOSE_SH), "down", timeout=300)
    assert (
        deployment.engine_cmd(
            "ps",
            "-q",
            "--filter",
            f"label=com.docker.compose.project={deployment.env['COMPOSE_PROJECT']}",
        ).strip()
        == ""
    )
    run(str(COMPOSE_SH), "up", timeout=600)
    test_every_container_is_healthy_and_keys_completed(deployment)
    # the migrations were not applied again: the same single version each
    for db, version in deployment.state["alembic"].items():
        assert deployment.psql(db, "SELECT version_num FROM alembic_version").split() == [version]
    nc = await deployment.connect()
    try:
        session = await deployment.call(
            nc, "identity.v1.auth.login", {"email": user["email"], "password": "correct horse 1843"}
        )
        assert session["account_id"] == acc["id"]
        got = await deployment.call(
            nc, "account.v1.accounts.get", {"account_id": acc["id"]}, str(session["token"])
        )
        assert got["name"] == acc["name"]
    finally:
        await nc.close()
    await asyncio.sleep(0)
