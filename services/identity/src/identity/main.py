"""``create_app()`` -> FastStream; nothing connects at import."""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream
from shared.messaging.rpc import RpcRouter
from shared.messaging.streams import StreamSpec
from shared.service import Service

from identity.adapters.uow import IdentityUnitOfWork
from identity.config import IdentityConfig
from identity.entrypoints import register
from shared import subjects as s

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

STREAMS = [
    StreamSpec(s.STREAM_IDENTITY, [s.EVENTS_IDENTITY_ALL], description="identity service events"),
    StreamSpec(
        s.STREAM_INGEST_DIRECTORY,
        [s.INGEST_DIRECTORY_ALL],
        description="user provisioning requests from other systems",
        work_queue=True,  # a request is deleted once handled: no credential stays at rest
    ),
]


def build_service(config: IdentityConfig | None = None) -> Service:
    config = config or IdentityConfig()
    rpc = RpcRouter("identity")
    svc = Service(
        name="identity",
        queue=s.IDENTITY,
        settings=config,
        alembic_ini=ALEMBIC_INI,
        rpc=rpc,
        owned_streams=STREAMS,
        health_subject=s.IDENTITY_HEALTH,
        uow_class=IdentityUnitOfWork,
        dead_letter_subjects=(s.IDENTITY_DEAD_LETTERS_LIST, s.IDENTITY_DEAD_LETTERS_REPLAY),
    )
    register(rpc, svc, config)
    return svc


def create_app() -> FastStream:
    return build_service().app
