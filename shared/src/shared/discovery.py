"""Service discovery in NATS's own service protocol (the ``$SRV`` subjects of NATS
micro, ADR-32): every service instance answers ``$SRV.PING``, ``$SRV.INFO`` and
``$SRV.STATS`` (for all services, for its name, and for its own id), so ``nats micro
ls`` / ``info`` / ``stats`` and ``provisioning status`` see each instance, its
version, where its metrics are, and per endpoint its requests, errors and processing
time (the same requests ``/metrics`` counts, since this instance started).

The endpoints themselves stay on :class:`shared.messaging.rpc.RpcRouter`; this only
describes them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = logging.getLogger(__name__)

PING_TYPE = "io.nats.micro.v1.ping_response"
INFO_TYPE = "io.nats.micro.v1.info_response"
STATS_TYPE = "io.nats.micro.v1.stats_response"
VERBS = ("PING", "INFO", "STATS")


def discovery_subjects(name: str, instance_id: str | None = None) -> list[str]:
    """The ``$SRV`` subjects an instance of service ``name`` subscribes to (with its id:
    exact; without: a wildcard for any instance id, as NATS permissions need it)."""
    last = instance_id or "*"
    return [
        f"$SRV.{verb}{suffix}" for verb in VERBS for suffix in ("", f".{name}", f".{name}.{last}")
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
        stats: Callable[[], dict[str, dict[str, Any]]] | None = None,
    ) -> None:
        self.name = name
        self.id = secrets.token_hex(11)
        self.version = version
        self.description = description
        self.endpoints = endpoints
        self.metadata = dict(metadata or {})
        self._stats = stats
        self.started = datetime.now(UTC).isoformat()
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

    def stats(self) -> dict[str, Any]:
        """Per endpoint: ``num_requests``, ``num_errors``, ``last_error``,
        ``processing_time`` and ``average_processing_time`` (nanoseconds)."""
        counts = self._stats() if self._stats is not None else {}
        endpoints = []
        for ep in self.endpoints:
            c = counts.get(ep["subject"], {})
            n, total = int(c.get("num_requests", 0)), int(c.get("processing_time", 0))
            endpoints.append(
                {
                    "name": ep["name"],
                    "subject": ep["subject"],
                    "queue_group": ep["queue_group"],
                    "num_requests": n,
                    "num_errors": int(c.get("num_errors", 0)),
                    "last_error": str(c.get("last_error", "")),
                    "processing_time": total,
                    "average_processing_time": total // n if n else 0,
                }
            )
        return self._base(STATS_TYPE) | {"started": self.started, "endpoints": endpoints}

    def answer(self, subject: str) -> dict[str, Any]:
        if subject.startswith("$SRV.PING"):
            return self.ping()
        if subject.startswith("$SRV.STATS"):
            return self.stats()
        return self.info()

    async def start(self, nc: Client) -> None:
        async def on_msg(msg: Msg) -> None:
            if not msg.reply:
                return
            body = self.answer(msg.subject)
            with contextlib.suppress(Exception):
                await nc.publish(msg.reply, json.dumps(body).encode())

        for subject in discovery_subjects(self.name, self.id):
            self._subs.append(await nc.subscribe(subject, cb=on_msg))

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
