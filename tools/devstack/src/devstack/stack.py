"""Start the whole system on the embedded default (or on servers named by
environment variables), supervise the four services, stop everything on exit."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port
from devstack.servers import Proc, start_nats, start_postgres, stop_postgres
from devstack.smtp import MailServer

SERVICES: dict[str, tuple[str, str]] = {
    # name: (python module, health subject)
    "account": ("account", "account.v1.health"),
    "identity": ("identity", "identity.v1.health"),
    "invite-scheduler": ("invite_scheduler", "invites.v1.health"),
    "engage-import": ("engage_import", "engage.v1.health"),
}


def _load_or_create(path: Path, make: dict[str, str]) -> dict[str, str]:
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    path.write_text(json.dumps(make, indent=2))
    path.chmod(0o600)
    return make


@dataclass
class Stack:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    nats: Proc | None = None
    postgres: Proc | None = None
    mail: MailServer | None = None
    maildir: Path | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)

    def start_infra(self) -> None:
        from shared.auth import generate_keypair

        self.root.mkdir(parents=True, exist_ok=True)
        env = self.env
        if os.environ.get("NATS_URL"):
            env["NATS_URL"] = os.environ["NATS_URL"]
        else:
            self.nats = start_nats(self.root / "nats")
            env["NATS_URL"] = self.nats.url
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            self.postgres = start_postgres(self.root / "postgres")
            env["DATABASE_URL"] = self.postgres.url
        if os.environ.get("SMTP_HOST"):
            env["SMTP_HOST"] = os.environ["SMTP_HOST"]
            env["SMTP_PORT"] = os.environ.get("SMTP_PORT", "25")
        else:
            port = free_port(2525)
            self.maildir = self.root / "mail"
            self.mail = MailServer(self.maildir, port)
            self.mail.start()
            env["SMTP_HOST"] = "127.0.0.1"
            env["SMTP_PORT"] = str(port)
        priv, pub = generate_keypair()
        keys = _load_or_create(
            self.root / "keys.json",
            {
                "TOKEN_PRIVATE_KEY": priv,
                "TOKEN_PUBLIC_KEY": pub,
                "INTERNAL_KEY": secrets.token_urlsafe(32),
            },
        )
        for k, v in keys.items():
            env[k] = os.environ.get(k, v)
        op = _load_or_create(
            self.root / "operator.json",
            {
                "OPERATOR_EMAIL": "operator@example.com",
                "OPERATOR_PASSWORD": secrets.token_urlsafe(18),
            },
        )
        for k, v in op.items():
            env[k] = os.environ.get(k, v)
        env["INVITE_LINK_BASE_URL"] = os.environ.get(
            "INVITE_LINK_BASE_URL", "http://localhost:8080/activate/"
        )
        (self.root / "env").write_text(
            "".join(f"export {k}={v!r}\n" for k, v in env.items() if "KEY" not in k)
        )

    def _spawn(self, name: str) -> None:
        module, _ = SERVICES[name]
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        logf = open(logs / f"{name}.log", "ab")  # noqa: SIM115
        child_env = {**os.environ, **self.env}
        self.services[name] = subprocess.Popen(
            [sys.executable, "-m", module],
            env=child_env,
            stdout=logf,
            stderr=logf,
            start_new_session=True,
        )

    def start_services(self) -> None:
        for name in SERVICES:
            self._spawn(name)

    def supervise_once(self) -> None:
        """Restart a service that exited (with a growing pause)."""
        for name, p in list(self.services.items()):
            if p.poll() is not None:
                n = self.restarts.get(name, 0) + 1
                self.restarts[name] = n
                print(f"[devstack] {name} exited with {p.returncode}; restarting ({n})", flush=True)
                time.sleep(min(0.5 * n, 5))
                self._spawn(name)

    async def wait_healthy(self, timeout: float = 60.0) -> dict[str, dict[str, object]]:
        import nats

        nc = await nats.connect(self.env["NATS_URL"])
        try:
            deadline = time.monotonic() + timeout
            result: dict[str, dict[str, object]] = {}
            pending = dict(SERVICES)
            while pending and time.monotonic() < deadline:
                for name, (_, subject) in list(pending.items()):
                    try:
                        msg = await nc.request(subject, b"{}", timeout=0.5)
                        body = json.loads(msg.data)
                        if body.get("status") == "ok":
                            result[name] = body
                            del pending[name]
                    except Exception:  # noqa: S110
                        pass
                if pending:
                    for name, p in self.services.items():
                        if p.poll() is not None and name in pending:
                            raise RuntimeError(f"{name} exited with {p.returncode}; see its log")
                    await asyncio.sleep(0.2)
            if pending:
                raise TimeoutError(f"not healthy after {timeout}s: {', '.join(pending)}")
            return result
        finally:
            await nc.close()

    def stop(self) -> None:
        for p in self.services.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.services.values():
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        self.services.clear()
        if self.mail:
            self.mail.stop()
            self.mail = None
        if self.postgres:
            stop_postgres(self.postgres)
            self.postgres = None
        if self.nats:
            self.nats.stop()
            self.nats = None
