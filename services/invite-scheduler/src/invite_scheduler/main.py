"""``create_app()`` -> FastStream; nothing connects at import."""

from __future__ import annotations

import weakref
from pathlib import Path

from faststream import FastStream
from shared.messaging.rpc import RpcRouter
from shared.messaging.streams import StreamSpec
from shared.observability import query_gauge
from shared.service import Service

from invite_scheduler.adapters.uow import InviteUnitOfWork
from invite_scheduler.config import InviteSchedulerConfig
from invite_scheduler.entrypoints import register
from invite_scheduler.scheduler import Dispatcher
from shared import subjects as s

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

STREAMS = [
    StreamSpec(
        s.STREAM_INVITES, [s.EVENTS_INVITES_ALL], description="invite-scheduler service events"
    )
]

# The dispatcher of each built service (tests pause one to play "the scheduler is down").
_dispatchers: weakref.WeakKeyDictionary[Service, Dispatcher] = weakref.WeakKeyDictionary()


def dispatcher_of(svc: Service) -> Dispatcher:
    return _dispatchers[svc]


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
        uow_class=InviteUnitOfWork,
        dead_letter_subjects=(s.INVITES_DEAD_LETTERS_LIST, s.INVITES_DEAD_LETTERS_REPLAY),
    )
    dispatcher = _dispatchers[svc] = register(rpc, svc, config)
    _metrics(svc, dispatcher)
    return svc


def _metrics(svc: Service, dispatcher: Dispatcher) -> None:
    """Emails sent and scheduler lag (docs/observability.md)."""
    m = svc.metrics
    m.function(
        "provisioning_emails_sent",
        "Welcome emails the SMTP server accepted (this process).",
        lambda: dispatcher.sent_count,
        kind="counter",
    )
    lag = m.gauge(
        "provisioning_scheduler_lag_seconds",
        "How long the oldest due invite has been waiting to be sent (0: none waiting).",
    )
    m.add_refresher(
        query_gauge(
            svc,
            lag,
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(due_at)), 0) FROM invites"
            " WHERE status = 'Scheduled' AND due_at <= now()",
        )
    )


def create_app() -> FastStream:
    return build_service().app
