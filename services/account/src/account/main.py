"""``create_app()`` -> FastStream; nothing connects at import."""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream
from shared.messaging.streams import StreamSpec
from shared.service import Service

from account.adapters.identity_client import AccountRpcRouter
from account.adapters.uow import AccountUnitOfWork
from account.config import AccountConfig
from account.entrypoints import register
from shared import subjects as s

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

STREAMS = [
    StreamSpec(s.STREAM_ACCOUNT, [s.EVENTS_ACCOUNT_ALL], description="account service events"),
    StreamSpec(
        s.STREAM_INGEST_TELEPHONY,
        [s.INGEST_TELEPHONY_ALL],
        description="call events from the telephony platform",
    ),
]


def build_service(config: AccountConfig | None = None) -> Service:
    config = config or AccountConfig()
    rpc = AccountRpcRouter("account")
    svc = Service(
        name="account",
        queue=s.ACCOUNT,
        settings=config,
        alembic_ini=ALEMBIC_INI,
        rpc=rpc,
        owned_streams=STREAMS,
        health_subject=s.ACCOUNT_HEALTH,
        uow_class=AccountUnitOfWork,
        dead_letter_subjects=(s.ACCOUNT_DEAD_LETTERS_LIST, s.ACCOUNT_DEAD_LETTERS_REPLAY),
    )
    register(rpc, svc)
    return svc


def create_app() -> FastStream:
    return build_service().app
