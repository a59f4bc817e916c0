"""JetStream streams: each service creates and updates only the streams it owns.

Limits come from configuration (:class:`StreamLimits`, read from the settings); the
rule at every start (docs/reliability.md, "Streams and consumers"):

- a missing stream is created from the code's defaults overlaid by configuration;
- on an existing stream, only what configuration sets explicitly is applied (with an
  info line naming each change); any other limit that differs from the default was
  changed by an operator and is **kept**, with a warning naming the difference;
- the subjects are the design's, not a limit: they are put right (with a warning).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class StreamLimits(BaseModel):
    """Limits an operator sets in configuration; ``None``: not set (the code's
    default when creating, the server's current value otherwise)."""

    model_config = ConfigDict(extra="forbid")

    replicas: int | None = Field(default=None, ge=1, le=5)
    max_age_seconds: float | None = Field(default=None, ge=0)
    max_bytes: int | None = Field(default=None, ge=-1)
    max_msgs: int | None = Field(default=None, ge=-1)

    def over(self, base: StreamLimits) -> StreamLimits:
        """These limits, with ``base`` filling what these leave unset."""
        return StreamLimits.model_validate(
            base.model_dump(exclude_none=True) | self.model_dump(exclude_none=True)
        )

    def explicit(self) -> dict[str, Any]:
        """What is set, by StreamConfig field name."""
        names = {
            "replicas": "num_replicas",
            "max_age_seconds": "max_age",
            "max_bytes": "max_bytes",
            "max_msgs": "max_msgs",
        }
        return {names[k]: v for k, v in self.model_dump(exclude_none=True).items()}


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

    def config(self, limits: StreamLimits | None = None) -> StreamConfig:
        cfg = StreamConfig(
            name=self.name,
            subjects=self.subjects,
            description=self.description or None,
            retention=RetentionPolicy.WORK_QUEUE if self.work_queue else RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_seconds,
            duplicate_window=self.duplicate_window_seconds,
            num_replicas=1,
            max_bytes=-1,
            max_msgs=-1,
        )
        for name, value in (limits or StreamLimits()).explicit().items():
            setattr(cfg, name, value)
        return cfg


# the limits compared at start; every other field is left as the server has it
COMPARED = ("max_age", "max_bytes", "max_msgs", "num_replicas", "duplicate_window", "discard")


def _norm(name: str, value: Any) -> Any:
    if value is None and name in ("max_bytes", "max_msgs"):
        return -1
    if value is None and name in ("max_age", "duplicate_window"):
        return 0.0
    if value is None and name == "num_replicas":
        return 1
    if name in ("max_age", "duplicate_window"):
        return round(float(value), 3)
    return value


def _show(name: str, value: Any) -> str:
    return f"{value:g}s" if name in ("max_age", "duplicate_window") else str(value)


async def ensure_stream(
    js: JetStreamContext, spec: StreamSpec, limits: StreamLimits | None = None
) -> list[str]:
    """Create the stream, or apply what configuration sets (owner only). Returns the
    differences kept (each also logged as a warning)."""
    limits = limits or StreamLimits()
    wanted = spec.config(limits)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(wanted)
        log.info("created stream %s", spec.name)
        return []
    current = info.config
    if current.retention != wanted.retention:
        # JetStream cannot change a stream's retention in place; the update keeps it
        log.error(
            "stream %s has retention %s, wanted %s: drain it, delete it and restart to apply",
            spec.name,
            current.retention,
            wanted.retention,
        )
    update = dataclasses.replace(current)
    changes: list[str] = []
    kept: list[str] = []
    if sorted(current.subjects or []) != sorted(spec.subjects):
        changes.append(f"subjects {current.subjects} -> {spec.subjects}")
        update.subjects = list(spec.subjects)
        log.warning(
            "stream %s: subjects were %s; set back to %s",
            spec.name,
            current.subjects,
            spec.subjects,
        )
    explicit = limits.explicit()
    for name in COMPARED:
        have, want = _norm(name, getattr(current, name)), _norm(name, getattr(wanted, name))
        if have == want:
            continue
        if name in explicit:
            setattr(update, name, getattr(wanted, name))
            changes.append(f"{name} {_show(name, have)} -> {_show(name, want)}")
        else:
            note = (
                f"stream {spec.name}: {name} is {_show(name, have)} on the server, the default"
                f" is {_show(name, want)}; kept (configuration does not set it)"
            )
            kept.append(note)
            log.warning(note)
    if changes:
        await js.update_stream(update)
        log.info("stream %s updated from configuration: %s", spec.name, "; ".join(changes))
    return kept
