"""``create_app()`` -> FastStream; nothing connects at import."""

from __future__ import annotations

from pathlib import Path

from faststream import FastStream
from shared.messaging.rpc import RpcRouter
from shared.messaging.streams import StreamSpec
from shared.observability import query_gauge
from shared.service import Service

from engage_import.adapters.uow import EngageUnitOfWork
from engage_import.config import EngageImportConfig
from engage_import.entrypoints import register
from shared import subjects as s

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

STREAMS = [
    StreamSpec(s.STREAM_ENGAGE, [s.EVENTS_ENGAGE_ALL], description="engage-import service events")
]


def build_service(config: EngageImportConfig | None = None) -> Service:
    config = config or EngageImportConfig()
    rpc = RpcRouter("engage")
    svc = Service(
        name="engage-import",
        queue=s.ENGAGE,
        settings=config,
        alembic_ini=ALEMBIC_INI,
        rpc=rpc,
        owned_streams=STREAMS,
        health_subject=s.ENGAGE_HEALTH,
        uow_class=EngageUnitOfWork,
        dead_letter_subjects=(s.ENGAGE_DEAD_LETTERS_LIST, s.ENGAGE_DEAD_LETTERS_REPLAY),
    )
    register(rpc, svc, config)
    _metrics(svc)
    return svc


def _metrics(svc: Service) -> None:
    """Import progress (docs/observability.md)."""
    m = svc.metrics
    jobs = m.gauge("provisioning_import_jobs", "Agent import jobs by status.", ["status"])
    users = m.gauge(
        "provisioning_import_users",
        "Users in unfinished import jobs: total, processed, imported, already_imported, rejected.",
        ["state"],
    )
    m.add_refresher(
        query_gauge(svc, jobs, "SELECT status, count(*) FROM import_jobs GROUP BY status", 1)
    )
    m.add_refresher(
        query_gauge(
            svc,
            users,
            "SELECT s.state, COALESCE(sum(s.n), 0) FROM import_jobs j, LATERAL (VALUES"
            " ('total', j.total), ('processed', j.processed), ('imported', j.imported),"
            " ('already_imported', j.already_imported), ('rejected', j.rejected)) AS s(state, n)"
            " WHERE j.status <> 'finished' GROUP BY s.state",
            1,
        )
    )


def create_app() -> FastStream:
    return build_service().app
