"""The four services running in this test process, on real NATS and PostgreSQL,
each on its own freshly named database, with a real SMTP server."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from devstack.ports import free_port
from devstack.smtp import MailServer
from devstack.stack import SERVICES
from nats.aio.client import Client
from nats.errors import NoRespondersError
from shared.auth import Perm, TokenSigner, generate_keypair
from shared.errors import AppError
from shared.messaging.client import call
from shared.natsconf import Credentials
from shared.service import Service

from tests.support.infra import external_nats_auth

# each service's NATS user (shared.natsconf.SERVICES)
SERVICE_USERS = {
    "account": "account",
    "identity": "identity",
    "invite-scheduler": "invites",
    "engage-import": "engage",
    "client": "client",
    "ingest": "ingest",
    "harness": "harness",
}


def uid(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def email(prefix: str = "user") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Reply:
    """A raw reply: body and headers, for error-contract assertions."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def error_code(self) -> str | None:
        err = self.body.get("error")
        return err.get("code") if isinstance(err, dict) else None


@dataclass
class System:
    nats_url: str
    database_url: str
    run_id: str
    private_key: str
    public_key: str
    internal_key: str
    operator_email: str
    operator_password: str
    mail: MailServer
    smtp_port: int
    link_base: str = "https://phone.example.com/activate/"
    invite_token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    services: dict[str, Service] = field(default_factory=dict)
    nats_creds: dict[str, Credentials] | None = None
    """Per-role NATS credentials (None: an external server, see tests/support/infra.py)."""
    nc: Client | None = None
    _ingest_nc: Client | None = None
    _harness_nc: Client | None = None
    _operator_token: str | None = None

    # --- NATS users ------------------------------------------------------------
    @property
    def nats_configured(self) -> bool:
        """True when the server runs the generated permissions (the harness started it)."""
        return self.nats_creds is not None

    def nats_kwargs(self, role: str) -> dict[str, Any]:
        """``nats.connect`` arguments for a role: a service's user (``account``,
        ``identity``, ``invites``, ``engage``), ``client``, ``ingest`` or ``harness``."""
        if self.nats_creds is None:
            return external_nats_auth()
        return self.nats_creds[role].connect_kwargs()

    async def connect(self, role: str, **kwargs: Any) -> Client:
        """A new NATS connection as ``role`` (the caller closes it)."""
        return await nats.connect(self.nats_url, **(self.nats_kwargs(role) | kwargs))

    # --- configuration for a service instance --------------------------------
    def config_kwargs(self, service: str) -> dict[str, Any]:
        nats_auth = self.nats_kwargs(SERVICE_USERS[service])
        return {
            "nats_url": self.nats_url,
            "nats_user": nats_auth.get("user", ""),
            "nats_password": nats_auth.get("password", ""),
            "nats_inbox_prefix": nats_auth.get("inbox_prefix", "_INBOX"),
            "database_url": self.database_url,
            "db_name": f"{self.run_id}_{service.replace('-', '_')}",
            "token_public_key": self.public_key,
            "internal_key": self.internal_key,
        }

    def build(self, service: str, **overrides: Any) -> Service:
        kw = self.config_kwargs(service)
        if service == "account":
            from account.config import AccountConfig
            from account.main import build_service as b_account

            return b_account(AccountConfig(**(kw | overrides)))
        if service == "identity":
            from identity.config import IdentityConfig
            from identity.main import build_service as b_identity

            return b_identity(
                IdentityConfig(
                    **(
                        kw
                        | {
                            "token_private_key": self.private_key,
                            "operator_email": self.operator_email,
                            "operator_password": self.operator_password,
                        }
                        | overrides
                    )
                )
            )
        if service == "invite-scheduler":
            from invite_scheduler.config import InviteSchedulerConfig
            from invite_scheduler.main import build_service as b_invites

            extra: dict[str, Any] = {}
            fields = InviteSchedulerConfig.model_fields
            if "smtp_host" in fields:
                extra = {"smtp_host": "127.0.0.1", "smtp_port": self.smtp_port}
            if "invite_link_base_url" in fields:
                extra["invite_link_base_url"] = self.link_base
            if "invite_token_secret" in fields:
                extra["invite_token_secret"] = self.invite_token_secret
            return b_invites(InviteSchedulerConfig(**(kw | extra | overrides)))
        if service == "engage-import":
            from engage_import.config import EngageImportConfig
            from engage_import.main import build_service as b_engage

            # the in-process tests wait 30 s for a user engage never hears of (the
            # rejection tests wait that out); deployments default to 120 s
            wait = {"import_unknown_user_wait_seconds": 30.0}
            return b_engage(EngageImportConfig(**(kw | wait | overrides)))
        raise ValueError(service)

    async def start(self, service: str, **overrides: Any) -> Service:
        svc = self.build(service, **overrides)
        await svc.app.start()
        if self.nc is not None:  # a restart within a test: answered before it goes on
            await self._answering(service)
        return svc

    async def _answering(self, service: str, timeout: float = 15.0) -> None:
        """Wait until the outside callers' connection gets an answer from ``service``'s
        health subject. A started service has flushed its subscriptions, so this is
        normally the first try; CI once saw "no responders" right after a restart, and
        this says so (with how long it took) instead of failing the test on it."""
        _, subject = SERVICES[service]  # (module, health subject), as make run uses
        loop = asyncio.get_running_loop()
        began = loop.time()
        tries = 0
        while True:
            tries += 1
            try:
                await self.client_nc.request(subject, b"{}", timeout=2.0)
                break
            except (NoRespondersError, TimeoutError, nats.errors.TimeoutError):
                if loop.time() - began > timeout:
                    raise
                await asyncio.sleep(0.1)
        if tries > 1:
            print(
                f"[system] {service} answered only after {tries} tries "
                f"({loop.time() - began:.2f}s) after its start",
                flush=True,
            )

    async def start_all(self) -> None:
        for name in ("account", "identity", "invite-scheduler", "engage-import"):
            self.services[name] = await self.start(name)
        self.nc = await self.connect("client")
        self._ingest_nc = await self.connect("ingest")
        self._harness_nc = await self.connect("harness")
        await self.wait_consumers_ready()

    async def wait_consumers_ready(self, timeout: float = 30.0) -> None:
        async def ready() -> None:
            for svc in self.services.values():
                for r in svc.runners.values():
                    await r.ready.wait()

        await asyncio.wait_for(ready(), timeout)

    async def stop_all(self) -> None:
        for conn in (self.nc, self._ingest_nc, self._harness_nc):
            if conn:
                await asyncio.wait_for(conn.close(), 10)
        for name, svc in reversed(list(self.services.items())):
            try:
                await asyncio.wait_for(svc.app.stop(), 45)
            except TimeoutError:
                print(f"[system] stopping {name} timed out", flush=True)
        self.services.clear()

    # --- connections by role ---------------------------------------------------
    @property
    def client_nc(self) -> Client:
        """The connection outside callers (operators' tools, integrators) use."""
        assert self.nc is not None
        return self.nc

    @property
    def ingest_nc(self) -> Client:
        """The connection other systems publish ``ingest.*`` messages with."""
        assert self._ingest_nc is not None
        return self._ingest_nc

    @property
    def harness_nc(self) -> Client:
        """A test-only connection with every permission: it publishes synthetic events
        of other services, calls internal subjects and reads streams."""
        assert self._harness_nc is not None
        return self._harness_nc

    # --- calling -------------------------------------------------------------
    async def call(
        self,
        subject: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        via: Client | None = None,
    ) -> dict[str, Any]:
        """A request on the client connection (or ``via`` another one)."""
        nc = via or self.nc
        assert nc is not None
        return await call(nc, subject, payload or {}, token=token, timeout=timeout)

    async def raw(
        self,
        subject: str,
        data: bytes | dict[str, Any],
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        via: Client | None = None,
    ) -> Reply:
        """A request on the client connection (or ``via`` another one)."""
        nc = via or self.nc
        assert nc is not None
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        msg = await nc.request(subject, body, timeout=timeout, headers=h or None)
        return Reply(json.loads(msg.data) if msg.data else {}, dict(msg.headers or {}))

    async def expect_error(
        self,
        code: str,
        subject: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        via: Client | None = None,
    ) -> AppError:
        try:
            await self.call(subject, payload, token=token, via=via)
        except AppError as err:
            assert err.code == code, f"expected {code}, got {err.code}: {err.message} {err.details}"
            return err
        raise AssertionError(f"{subject} succeeded; expected {code}")

    async def operator_token(self) -> str:
        if self._operator_token is None:
            reply = await self.call(
                "identity.v1.auth.login",
                {"email": self.operator_email, "password": self.operator_password},
            )
            self._operator_token = reply["token"]
        return self._operator_token

    def token_for(
        self, account_id: str, permissions: Any = Perm.ALL, user_id: str | None = None
    ) -> str:
        """A session for an account admin, minted as identity would (for tests that
        are about another service than identity)."""
        perms = [p for p in permissions]
        token, _ = TokenSigner(self.private_key).mint(
            user_id=user_id or uid("usr_"), account_id=account_id, permissions=perms
        )
        return token

    async def create_account(self, **fields: Any) -> dict[str, Any]:
        payload = {"name": f"Acme {uid()}", "country": "US", "plan": "ultra"} | fields
        return await self.call(
            "account.v1.accounts.create", payload, token=await self.operator_token()
        )


def new_system(
    nats_url: str,
    database_url: str,
    tmp: Path,
    nats_creds: dict[str, Credentials] | None = None,
) -> System:
    priv, pub = generate_keypair()
    port = free_port()
    mail = MailServer(tmp / "mail", port)
    mail.start()
    return System(
        nats_url=nats_url,
        database_url=database_url,
        run_id=uid("t"),
        private_key=priv,
        public_key=pub,
        internal_key=secrets.token_urlsafe(24),
        operator_email=email("operator"),
        operator_password=secrets.token_urlsafe(16),
        mail=mail,
        smtp_port=port,
        nats_creds=nats_creds,
    )


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async or sync predicate until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(interval)
