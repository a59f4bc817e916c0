"""JetStream streams: each service creates and updates only the streams it owns."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: list[str]
    max_age_seconds: float = 7 * 24 * 3600
    duplicate_window_seconds: float = 120
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    work_queue: bool = False
    """Work-queue retention: JetStream deletes each message once its (single)
    consumer acknowledges or terminates it, so requests that carried credentials do
    not stay at rest for ``max_age``."""

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=self.subjects,
            description=self.description or None,
            retention=RetentionPolicy.WORK_QUEUE if self.work_queue else RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_seconds,
            duplicate_window=self.duplicate_window_seconds,
        )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create the stream, or bring its config up to date (owner only)."""
    cfg = spec.config()
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(cfg)
        log.info("created stream %s", spec.name)
        return
    if info.config.retention != cfg.retention:
        # JetStream cannot change a stream's retention in place
        log.error(
            "stream %s has retention %s, wanted %s: drain it, delete it and restart to apply",
            spec.name,
            info.config.retention,
            cfg.retention,
        )
        cfg.retention = info.config.retention
    await js.update_stream(cfg)
