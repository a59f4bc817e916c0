"""Service discovery in NATS's own service protocol (the ``$SRV`` subjects of NATS
micro, ADR-32): every service instance answers ``$SRV.PING`` and ``$SRV.INFO`` (for
all services, for its name, and for its own id), so ``nats micro ls`` / ``info``
and ``provisioning status`` see each instance, its version and where its metrics
are. Only PING and INFO are served: request counts live in ``/metrics``.

The endpoints themselves stay on :class:`shared.messaging.rpc.RpcRouter`; this only
describes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

PING_TYPE = "io.nats.micro.v1.ping_response"
INFO_TYPE = "io.nats.micro.v1.info_response"


def discovery_subjects(name: str, instance_id: str | None = None) -> list[str]:
    """The ``$SRV`` subjects an instance of service ``name`` subscribes to (with its id:
    exact; without: a wildcard for any instance id, as NATS permissions need it)."""
    last = instance_id or "*"
    return [
        f"$SRV.{verb}{suffix}"
        for verb in ("PING", "INFO")
        for suffix in ("", f".{name}", f".{name}.{last}")
    ]


class Discovery:
    """One service instance's ``$SRV.PING`` / ``$SRV.INFO`` responder."""

    def __init__(
        self,
        name: str,
        version: str,
        description: str,
        endpoints: list[dict[str, Any]],
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.id = secrets.token_hex(11)
        self.version = version
        self.description = description
        self.endpoints = endpoints
        self.metadata = dict(metadata or {})
        self._subs: list[Subscription] = []

    def _base(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "name": self.name,
            "id": self.id,
            "version": self.version,
            "metadata": self.metadata,
        }

    def ping(self) -> dict[str, Any]:
        return self._base(PING_TYPE)

    def info(self) -> dict[str, Any]:
        return self._base(INFO_TYPE) | {
            "description": self.description,
            "endpoints": self.endpoints,
        }

    async def start(self, nc: Client) -> None:
        async def on_msg(msg: Msg) -> None:
            if not msg.reply:
                return
            body = self.ping() if msg.subject.startswith("$SRV.PING") else self.info()
            with contextlib.suppress(Exception):
                await nc.publish(msg.reply, json.dumps(body).encode())

        for subject in discovery_subjects(self.name, self.id):
            self._subs.append(await nc.subscribe(subject, cb=on_msg))

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
