"""``create_app()`` -> FastStream; nothing connects at import."""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream
from shared import subjects as s
from shared.messaging.rpc import RpcRouter
from shared.messaging.streams import StreamSpec
from shared.service import Service

from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.entrypoints import register

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

STREAMS = [StreamSpec(s.STREAM_INVITES, [s.EVENTS_INVITES_ALL], description="invite-scheduler service events")]


def build_service(config: InviteSchedulerConfig | None = None) -> Service:
    config = config or InviteSchedulerConfig()
    rpc = RpcRouter("invites")
    svc = Service(
        name="invite-scheduler",
        queue=s.INVITES,
        settings=config,
        alembic_ini=ALEMBIC_INI,
        rpc=rpc,
        owned_streams=STREAMS,
        health_subject=s.INVITES_HEALTH,
        dead_letter_subjects=(s.INVITES_DEAD_LETTERS_LIST, s.INVITES_DEAD_LETTERS_REPLAY),
    )
    register(rpc, svc, config)
    return svc


def create_app() -> FastStream:
    return build_service().app
