"""Start the whole system on the embedded default (or on servers named by
environment variables), supervise the four services, stop everything on exit."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client
from shared.natsconf import Credentials, write_private
from shared.settings import nats_env_kwargs

from devstack.ports import Moved, moved_warning, pick_port
from devstack.servers import Proc, start_nats, start_postgres, stop_postgres
from devstack.smtp import MailServer
from shared import natsconf

SERVICES: dict[str, tuple[str, str]] = {
    # name: (python module, health subject)
    "account": ("account", "account.v1.health"),
    "identity": ("identity", "identity.v1.health"),
    "invite-scheduler": ("invite_scheduler", "invites.v1.health"),
    "engage-import": ("engage_import", "engage.v1.health"),
}


# each service's NATS user (shared.natsconf.SERVICES)
SERVICE_USERS: dict[str, str] = {
    "account": "account",
    "identity": "identity",
    "invite-scheduler": "invites",
    "engage-import": "engage",
}

# preferred ports: NATS, PostgreSQL, SMTP, and each service's /metrics /healthz /readyz
NATS_PORT = 4250
POSTGRES_PORT = 5440
SMTP_PORT = 2525
METRICS_PORTS: dict[str, int] = {
    "account": 9251,
    "identity": 9252,
    "invite-scheduler": 9253,
    "engage-import": 9254,
}

# what only identity may see
IDENTITY_ONLY = ("TOKEN_PRIVATE_KEY", "OPERATOR_EMAIL", "OPERATOR_PASSWORD")


def _load_or_create(path: Path, make: dict[str, str]) -> dict[str, str]:
    """The values kept in ``path``; any of ``make`` it lacks (a newer version's) added."""
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        path.chmod(0o600)
        if make.keys() <= data.keys():
            return data
        make = make | data
    write_private(path, json.dumps(make, indent=2))
    return make


def _inherited(name: str) -> bool:
    """May a service process inherit this variable from the launcher's environment?
    Not credentials or keys: each service gets only its own, explicitly."""
    return not (
        "NATS_" in name
        or name.endswith(("_KEY", "_PASSWORD", "_CREDS", "_SECRET"))
        or name in IDENTITY_ONLY
    )


def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME='value'`` lines of ``.devstack/env``."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.isidentifier():
            out[name] = shlex.split(value)[0] if value else ""
    return out


@dataclass
class Stack:
    root: Path
    harness: bool = False
    """Add the all-powerful ``harness`` NATS user (benchmarks only; never ``make run``)."""
    env: dict[str, str] = field(default_factory=dict)
    """What a client of the stack needs (written to ``<root>/env``): URLs, the client,
    ingest and observer credentials, the operator; never a private key."""
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each service process's own variables (its NATS user; the signing key for identity)."""
    nats_creds: dict[str, Credentials] = field(default_factory=dict)
    nats_config: Path | None = None
    nats: Proc | None = None
    postgres: Proc | None = None
    mail: MailServer | None = None
    maildir: Path | None = None
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    moved: list[Moved] = field(default_factory=list)
    """Preferred ports that were taken (and the ones used instead): warned about loudly."""
    metrics_ports: dict[str, int] = field(default_factory=dict)

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    def _nats_credentials(self) -> None:
        """Per-run NATS users (persisted, 0600) and the server's authorization block."""
        saved = _load_or_create(
            self.root / "nats-users.json",
            {c.user: c.password for c in natsconf.generate(harness=True).values()},
        )
        self.nats_creds = natsconf.generate(saved, harness=self.harness)
        self.nats_config = self.root / "nats-auth.conf"
        write_private(self.nats_config, natsconf.authorization_block(self.nats_creds))

    def _external_nats_env(self, prefix: str) -> dict[str, str]:
        """Credentials for a NATS server the user runs (``NATS_URL``), from the
        environment: the same names as the generated ones."""
        names = ("NATS_USER", "NATS_PASSWORD", "NATS_CREDS", "NATS_INBOX_PREFIX")
        return {
            f"{prefix}{n}": os.environ[f"{prefix}{n}"]
            for n in names
            if f"{prefix}{n}" in os.environ
        }

    def start_infra(self) -> None:
        from shared.auth import generate_keypair

        self.root.mkdir(parents=True, exist_ok=True)
        env = self.env
        common: dict[str, str] = {}
        if os.environ.get("NATS_URL"):
            env["NATS_URL"] = os.environ["NATS_URL"]
            env |= self._external_nats_env("") | self._external_nats_env("INGEST_")
            env |= self._external_nats_env("OBSERVER_")
            nats_env = {
                svc: self._external_nats_env(natsconf.SERVICES[user].env_prefix)
                for svc, user in SERVICE_USERS.items()
            }
        else:
            self._nats_credentials()
            port = pick_port("NATS", NATS_PORT, self.moved)
            self.nats = start_nats(self.root / "nats", port=port, config=self.nats_config)
            env["NATS_URL"] = self.nats.url
            for role in ("client", "ingest", "observer"):
                env |= self.nats_creds[role].env()
            nats_env = {svc: self.nats_creds[user].env() for svc, user in SERVICE_USERS.items()}
        common["NATS_URL"] = env["NATS_URL"]
        if os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["DATABASE_URL"]
        else:
            port = pick_port("PostgreSQL", POSTGRES_PORT, self.moved)
            self.postgres = start_postgres(self.root / "postgres", port=port)
            env["DATABASE_URL"] = self.postgres.url
        if os.environ.get("SMTP_HOST"):
            env["SMTP_HOST"] = os.environ["SMTP_HOST"]
            env["SMTP_PORT"] = os.environ.get("SMTP_PORT", "25")
        else:
            port = pick_port("SMTP", SMTP_PORT, self.moved)
            self.maildir = self.root / "mail"
            self.mail = MailServer(self.maildir, port)
            self.mail.start()
            env["SMTP_HOST"] = "127.0.0.1"
            env["SMTP_PORT"] = str(port)
        priv, pub = generate_keypair()
        keys = {
            k: os.environ.get(k, v)
            for k, v in _load_or_create(
                self.root / "keys.json",
                {
                    "TOKEN_PRIVATE_KEY": priv,
                    "TOKEN_PUBLIC_KEY": pub,
                    "INTERNAL_KEY": secrets.token_urlsafe(32),
                    "INVITE_TOKEN_SECRET": secrets.token_urlsafe(32),
                },
            ).items()
        }
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
        env["RECOVERY_LINK_BASE_URL"] = os.environ.get(
            "RECOVERY_LINK_BASE_URL", "http://localhost:8080/recover/"
        )
        env["TOKEN_PUBLIC_KEY"] = keys["TOKEN_PUBLIC_KEY"]
        for k in (
            "DATABASE_URL",
            "SMTP_HOST",
            "SMTP_PORT",
            "INVITE_LINK_BASE_URL",
            "RECOVERY_LINK_BASE_URL",
        ):
            common[k] = env[k]
        common["TOKEN_PUBLIC_KEY"] = keys["TOKEN_PUBLIC_KEY"]
        common["INTERNAL_KEY"] = keys["INTERNAL_KEY"]
        for svc in SERVICES:
            self.service_env[svc] = common | nats_env[svc]
            self.metrics_ports[svc] = pick_port(f"{svc} HTTP", METRICS_PORTS[svc], self.moved)
            self.service_env[svc]["METRICS_PORT"] = str(self.metrics_ports[svc])
        # activation links are derived from it: the invite scheduler's alone
        self.service_env["invite-scheduler"]["INVITE_TOKEN_SECRET"] = keys["INVITE_TOKEN_SECRET"]
        self.service_env["identity"] |= {
            "TOKEN_PRIVATE_KEY": keys["TOKEN_PRIVATE_KEY"],
            "OPERATOR_EMAIL": env["OPERATOR_EMAIL"],
            "OPERATOR_PASSWORD": env["OPERATOR_PASSWORD"],
        }
        write_private(self.env_file, natsconf.env_lines(env))
        warning = moved_warning(self.moved, str(self.env_file))
        if warning:
            print(warning, flush=True)

    def client_connect_kwargs(self, role: str = "client") -> dict[str, Any]:
        """``nats.connect`` arguments for the client (or ``ingest``, ``observer``, or with
        ``harness=True`` the ``harness``) role."""
        if role == "harness":
            return self.nats_creds["harness"].connect_kwargs()
        prefix = {"ingest": "INGEST_", "observer": "OBSERVER_"}.get(role, "")
        return nats_env_kwargs(prefix, self.env)

    async def connect(self, role: str = "client", **kwargs: Any) -> Client:
        import nats

        return await nats.connect(
            self.env["NATS_URL"], **(self.client_connect_kwargs(role) | kwargs)
        )

    def _spawn(
        self, name: str, key: str | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        """Start service ``name`` as ``services[key]`` (default: its name; another key
        is another replica), logging to ``logs/<key>.log``."""
        module, _ = SERVICES[name]
        key = key or name
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        logf = open(logs / f"{key}.log", "ab")  # noqa: SIM115
        child_env = {k: v for k, v in os.environ.items() if _inherited(k)}
        child_env |= self.service_env[name] | (extra_env or {})
        self.services[key] = subprocess.Popen(
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
        nc = await self.connect("client")
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
