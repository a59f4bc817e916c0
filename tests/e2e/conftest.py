"""End to end: the stack `make run` starts (four service processes, their own
embedded NATS and PostgreSQL, the local SMTP server writing a Maildir), driven
only over NATS."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from devstack.smtp import read_messages
from devstack.stack import Stack
from nats.aio.client import Client
from shared.errors import AppError
from shared.messaging.client import call


@dataclass
class E2E:
    stack: Stack
    nc: Client

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    async def call(
        self, subject: str, payload: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return await call(self.nc, subject, payload or {}, token=token, timeout=20)

    async def error(
        self, subject: str, payload: dict[str, Any], token: str | None = None
    ) -> AppError:
        try:
            await self.call(subject, payload, token)
        except AppError as err:
            return err
        raise AssertionError(f"{subject} succeeded")

    async def operator(self) -> str:
        r = await self.call(
            "identity.v1.auth.login",
            {"email": self.env["OPERATOR_EMAIL"], "password": self.env["OPERATOR_PASSWORD"]},
        )
        return str(r["token"])

    def mails_to(self, address: str) -> list[EmailMessage]:
        assert self.stack.maildir is not None
        return read_messages(self.stack.maildir, to=address)

    @staticmethod
    def activation_token(msg: EmailMessage) -> str:
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        m = re.search(r"https?://\S+", text)
        assert m, text
        link = m.group(0).rstrip(".,)>")
        q = re.search(r"[?&]token=([^&\s]+)", link)
        return q.group(1) if q else link.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    saved = {
        k: os.environ.pop(k)
        for k in ("NATS_URL", "DATABASE_URL", "SMTP_HOST", "SMTP_PORT")
        if k in os.environ
    }
    stack = Stack(Path(tmp_path_factory.mktemp("e2e")) / "stack")
    try:
        stack.start_infra()
        stack.start_services()
        yield stack
    finally:
        stack.stop()
        os.environ.update(saved)


@pytest.fixture(scope="session")
async def e2e(e2e_stack: Stack) -> AsyncIterator[E2E]:
    try:
        await e2e_stack.wait_healthy(90)
    except Exception:
        logs = e2e_stack.root / "logs"
        for f in sorted(logs.glob("*.log")):
            print(f"== {f.name}\n{f.read_text()[-3000:]}")
        raise
    nc = await e2e_stack.connect("client")  # the credentials `make run` writes
    try:
        yield E2E(e2e_stack, nc)
    finally:
        await nc.close()


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()
