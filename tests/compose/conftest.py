"""The compose deployment as an operator checks it (`make compose-test`,
deploy/local/compose.sh test): run only with COMPOSE_TEST=1, against a stack that
`deploy/local/compose.sh up` has brought up (Docker with public images, or podman with
the local images); never part of plain `make test`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from shared.messaging.client import call

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_SH = ROOT / "deploy" / "local" / "compose.sh"
# the long-running containers (keys is one-shot)
SERVICES = (
    "nats",
    "postgres",
    "mailpit",
    "account",
    "identity",
    "invite-scheduler",
    "engage-import",
)
OURS = ("account", "identity", "invite-scheduler", "engage-import")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("COMPOSE_TEST") == "1":
        return
    skip = pytest.mark.skip(reason="the compose deployment: COMPOSE_TEST=1 (make compose-test)")
    for item in items:
        if "tests/compose/" in item.nodeid:
            item.add_marker(skip)


def run(*args: str, check: bool = True, timeout: float = 600) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def parse_env(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = shlex.split(value)[0] if value else ""
    return out


@dataclass
class Deployment:
    env: dict[str, str]
    client: dict[str, str]
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return self.env["COMPOSE_ENGINE"]

    def engine_cmd(self, *args: str, check: bool = True) -> str:
        return run(self.engine, *args, check=check)

    def container(self, service: str) -> str:
        names = self.engine_cmd(
            "ps", "-a",
            "--filter", f"label=com.docker.compose.project={self.env['COMPOSE_PROJECT']}",
            "--filter", f"label=com.docker.compose.service={service}",
            "--format", "{{.Names}}",
        ).split()  # fmt: skip
        assert len(names) == 1, f"{service}: containers {names}"
        return names[0]

    def inspect(self, service: str, fmt: str) -> str:
        return self.engine_cmd("inspect", "--format", fmt, self.container(service)).strip()

    def exec(self, service: str, *args: str, check: bool = True) -> str:
        return self.engine_cmd("exec", self.container(service), *args, check=check)

    def psql(self, database: str, sql: str) -> str:
        return self.exec("postgres", "psql", "-U", "postgres", "-d", database, "-tA", "-c", sql)

    def mail_api(self, path: str) -> Any:
        with urllib.request.urlopen(self.env["COMPOSE_MAIL_API"] + path, timeout=10) as resp:
            return json.load(resp)

    async def connect(self) -> Client:
        return await nats.connect(
            self.env["COMPOSE_NATS_URL"],
            user=self.client["NATS_USER"],
            password=self.client["NATS_PASSWORD"],
            inbox_prefix=self.client["NATS_INBOX_PREFIX"],
            connect_timeout=5,
            max_reconnect_attempts=0,
        )

    @staticmethod
    async def call(
        nc: Client, subject: str, payload: dict[str, Any], token: str | None = None
    ) -> dict[str, Any]:
        return await call(nc, subject, payload, token=token, timeout=20)


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    env = parse_env(run(str(COMPOSE_SH), "env"))
    client = parse_env(run(str(COMPOSE_SH), "client-env"))
    return Deployment(env=env, client=client)


@pytest.fixture
async def nc(deployment: Deployment) -> AsyncIterator[Client]:
    conn = await deployment.connect()
    try:
        yield conn
    finally:
        await conn.close()
