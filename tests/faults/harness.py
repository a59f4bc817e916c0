"""The system under test: the stack `make run` starts (tools/devstack), with hooks to
inject faults (devstack.faults), an SMTP server that can refuse, fail or be down,
and direct read access to every service's own database for the checker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import asyncpg
import nats
from devstack import faults as hooks
from devstack.smtp import MailServer, read_messages
from devstack.stack import SERVICES, Stack
from nats.aio.client import Client
from nats.js.client import JetStreamContext
from shared.db import database_url_for
from shared.errors import AppError
from shared.messaging.client import call

from shared import natsconf

DATABASES = {
    "account": "account",
    "identity": "identity",
    "invite-scheduler": "invite_scheduler",
    "engage-import": "engage_import",
}

# Settings of the services under test (documented in docs/reliability.md): small
# retry budgets so that today's limits are reached in seconds, not minutes.
FAULT_ENV = {
    "CONSUMER_MAX_DELIVER": "3",
    "INVITES_SEND_LEASE_SECONDS": "10",
    "INVITES_IDLE_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "INFO",
}

_ENV_KEYS = ("NATS_URL", "DATABASE_URL", "SMTP_HOST", "SMTP_PORT")


@contextlib.contextmanager
def own_environment(**overrides: str) -> Iterator[None]:
    """The stack starts its own servers unless these are set: hide the caller's."""
    saved = {k: os.environ.pop(k) for k in _ENV_KEYS if k in os.environ}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k in (*_ENV_KEYS, *overrides):
            os.environ.pop(k, None)
        os.environ.update(saved)


@dataclass
class FaultStack:
    stack: Stack
    replicas: int = 1
    nc: Client | None = None
    cluster: hooks.NatsCluster | None = None
    harness: dict[str, Any] | None = None
    """``nats.connect`` arguments of the harness user when the stack's NATS is not its own."""
    events: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    @property
    def maildir(self) -> Path:
        assert self.stack.maildir is not None
        return self.stack.maildir

    def note(self, what: str) -> None:
        line = f"{time.monotonic() - self.started:8.2f}s {what}"
        self.events.append(line)
        print(f"[faults] {line}", flush=True)

    # --- lifecycle ----------------------------------------------------------------

    @classmethod
    def start(
        cls, root: Path, extra_env: dict[str, str] | None = None, cluster: bool = False
    ) -> FaultStack:
        nats_cluster = None
        overrides: dict[str, str] = {}
        harness: dict[str, Any] = {}
        if cluster:
            # the cluster is "a NATS server of the operator's": every node gets the
            # generated users, and the stack takes each role's credentials from env
            creds = natsconf.generate(harness=True)
            nats_cluster = hooks.NatsCluster(
                root / "nats-cluster", authorization=natsconf.authorization_block(creds)
            )
            nats_cluster.start(3)
            overrides["NATS_URL"] = nats_cluster.url
            for c in creds.values():
                overrides |= c.env()
            harness = creds["harness"].connect_kwargs()
        with own_environment(**overrides):
            stack = Stack(root, harness=True)
            stack.start_infra()
        for name in SERVICES:
            stack.service_env[name] |= FAULT_ENV | (extra_env or {})
        fs = cls(stack, cluster=nats_cluster, harness=harness or None)
        stack.start_services()
        return fs

    async def connect(self) -> None:
        """The suite's own connection, as the test harness (it reads every stream's
        state, publishes ingest, calls public subjects)."""
        await self.wait_healthy()
        kwargs = self.harness or self.stack.client_connect_kwargs("harness")
        self.nc = await nats.connect(
            self.env["NATS_URL"], max_reconnect_attempts=-1, reconnect_time_wait=0.5, **kwargs
        )

    async def wait_healthy(self, timeout: float = 120) -> None:
        try:
            await self.stack.wait_healthy(timeout)
        except Exception:
            for f in sorted((self.stack.root / "logs").glob("*.log")):
                print(f"== {f.name}\n{f.read_text(errors='replace')[-3000:]}")
            raise

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        self.stack.stop()
        if self.cluster is not None:
            self.cluster.stop()

    # --- services -----------------------------------------------------------------

    def keys(self, name: str) -> list[str]:
        return [k for k in self.stack.services if hooks.service_of(k) == name]

    def start_replicas(self, n: int) -> None:
        for name in SERVICES:
            for r in range(2, n + 1):
                hooks.spawn(self.stack, name, r)
        self.replicas = n
        self.note(f"{n} replicas of every service")

    def stop_replicas(self) -> None:
        for key in [k for k in self.stack.services if "#" in k]:
            hooks.stop_service(self.stack, key)
        self.replicas = 1

    def kill(self, key: str) -> None:
        hooks.kill_service(self.stack, key)
        self.note(f"SIGKILL {key}")

    def restart(self, key: str) -> None:
        name, _, rep = key.partition("#")
        hooks.spawn(self.stack, name, int(rep or 1))
        self.note(f"started {key} again")

    def pause(self, name: str) -> None:
        for key in self.keys(name):
            hooks.kill_service(self.stack, key, signal.SIGSTOP)
        self.note(f"SIGSTOP {name}")

    def resume(self, name: str) -> None:
        for key in self.keys(name):
            hooks.kill_service(self.stack, key, signal.SIGCONT)
        self.note(f"SIGCONT {name}")

    def revive_dead(self) -> None:
        """What a supervisor does: start again every service process that exited."""
        for key, p in list(self.stack.services.items()):
            if p.poll() is not None:
                self.note(f"{key} had exited with {p.returncode}")
                self.restart(key)

    # --- infrastructure -----------------------------------------------------------

    async def restart_nats(self, down: float) -> None:
        hooks.kill_nats(self.stack)
        self.note("SIGKILL nats-server")
        await asyncio.sleep(down)
        await asyncio.to_thread(hooks.start_nats_again, self.stack)
        self.note("nats-server started again")

    async def stop_postgres(self) -> None:
        await asyncio.to_thread(hooks.stop_postgres_server, self.stack)
        self.note("PostgreSQL stopped")

    async def start_postgres(self) -> None:
        await asyncio.to_thread(hooks.start_postgres_again, self.stack)
        self.note("PostgreSQL started again")

    def smtp_answer(self, answer: str | None) -> None:
        assert self.stack.mail is not None
        self.stack.mail.handler.answer = answer
        self.note(f"SMTP answers {answer or 'normally'}")

    def smtp_down(self) -> None:
        assert self.stack.mail is not None
        self.stack.mail.stop()
        self.note("SMTP server down")

    def smtp_up(self) -> None:
        assert self.stack.mail is not None
        self.stack.mail = MailServer(self.maildir, self.stack.mail.port)
        self.stack.mail.start()
        self.note("SMTP server up")

    # --- reading state ------------------------------------------------------------

    def mails(self) -> dict[str, list[Any]]:
        """Every kept message by lower-cased recipient."""
        out: dict[str, list[Any]] = {}
        for msg in read_messages(self.maildir):
            address = parseaddr(str(msg.get("To", "")))[1].lower()
            out.setdefault(address, []).append(msg)
        return out

    async def db(self, service: str) -> asyncpg.Connection:
        base = self.env["DATABASE_URL"]
        url = database_url_for(base, DATABASES[service]).replace("+asyncpg", "")
        return await asyncpg.connect(url, timeout=10)

    async def query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db(service)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    # --- calling ------------------------------------------------------------------

    @property
    def js(self) -> JetStreamContext:
        assert self.nc is not None
        return self.nc.jetstream(timeout=5)

    async def call(
        self,
        subject: str,
        payload: dict[str, Any] | None = None,
        token: str | None = None,
        timeout: float = 20,
    ) -> dict[str, Any]:
        assert self.nc is not None
        return await call(self.nc, subject, payload or {}, token=token, timeout=timeout)

    async def call_retrying(
        self, subject: str, payload: dict[str, Any], token: str | None, deadline: float = 120
    ) -> dict[str, Any]:
        """For set-up and checks only (never for a ledger operation): retry until a reply."""
        end = time.monotonic() + deadline
        while True:
            try:
                return await self.call(subject, payload, token)
            except AppError as err:
                if err.code not in ("unavailable", "timeout", "internal") or (
                    time.monotonic() > end
                ):
                    raise
            except Exception:
                if time.monotonic() > end:
                    raise
            await asyncio.sleep(1)

    async def operator(self) -> str:
        r = await self.call_retrying(
            "identity.v1.auth.login",
            {"email": self.env["OPERATOR_EMAIL"], "password": self.env["OPERATOR_PASSWORD"]},
            None,
        )
        return str(r["token"])
