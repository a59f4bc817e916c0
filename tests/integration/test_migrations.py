"""Stairway: every revision of every service upgrades, downgrades and upgrades again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from shared.db import database_url_for, ensure_database, to_asyncpg_url

from tests.support.infra import Infra
from tests.support.system import uid

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["account", "identity", "invite-scheduler", "engage-import"]


def alembic_config(service: str, url: str) -> Config:
    ini = ROOT / "services" / service / "alembic.ini"
    cfg = Config(str(ini))
    cfg.set_main_option("script_location", str(ini.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", to_asyncpg_url(url))
    return cfg


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_stairway(infra: Infra, service: str) -> None:
    url = database_url_for(infra.database_url, f"{uid('stair')}_{service.replace('-', '_')}")
    await ensure_database(url)
    cfg = alembic_config(service, url)
    revisions = list(reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())))
    assert revisions, "no migrations"

    def climb() -> None:
        for rev in revisions:
            command.upgrade(cfg, rev.revision)
            command.downgrade(cfg, rev.down_revision or "base")
            command.upgrade(cfg, rev.revision)
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")

    await asyncio.to_thread(climb)
