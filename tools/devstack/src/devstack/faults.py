"""Hooks for fault injection on a running :class:`~devstack.stack.Stack`: more
replicas of a service, kill -9 of one, PostgreSQL and NATS stopped and started
again on the same data directory and port, and a three-node NATS cluster.

Used by the fault suite (tests/faults); nothing here runs in ``make run``."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_port
from devstack.servers import Proc, _venv_bin, start_nats, start_postgres, stop_postgres
from devstack.stack import Stack


def replica_key(name: str, replica: int) -> str:
    """The key of a service's process in ``Stack.services``: the name for replica 1."""
    return name if replica <= 1 else f"{name}#{replica}"


def service_of(key: str) -> str:
    return key.split("#", 1)[0]


def spawn(stack: Stack, name: str, replica: int = 1) -> str:
    """Start (or start again) one replica of service ``name``, with the service's own
    environment (its NATS user, its keys); its log is ``logs/<name>[#n].log``.
    Returns its key in ``stack.services``."""
    key = replica_key(name, replica)
    # one metrics port per service: further replicas serve none
    stack._spawn(name, key, {"METRICS_PORT": "0"} if replica > 1 else None)
    return key


def kill_service(stack: Stack, key: str, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` (default kill -9) to one service process and reap it."""
    p = stack.services[key]
    if p.poll() is None:
        p.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            p.wait(30)


def stop_service(stack: Stack, key: str) -> None:
    """Stop one service process gracefully (SIGTERM) and forget it."""
    p = stack.services.pop(key)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def kill_nats(stack: Stack) -> None:
    """kill -9 the stack's NATS server (its JetStream data stays on disk)."""
    assert stack.nats is not None, "the stack uses an external NATS server"
    stack.nats.stop(signal.SIGKILL)


def start_nats_again(stack: Stack) -> None:
    """Start the stack's NATS server again on the same port and data directory."""
    assert stack.nats is not None
    stack.nats = start_nats(
        stack.root / "nats", port=_port_of(stack.nats.url), config=stack.nats_config
    )


def stop_postgres_server(stack: Stack) -> None:
    """Stop the stack's PostgreSQL (fast shutdown: clients are disconnected)."""
    assert stack.postgres is not None, "the stack uses an external PostgreSQL server"
    stop_postgres(stack.postgres)


def start_postgres_again(stack: Stack) -> None:
    """Start the stack's PostgreSQL again on the same port and data directory."""
    assert stack.postgres is not None
    port = _port_of(stack.postgres.url.rsplit("/", 1)[0])
    stack.postgres = start_postgres(stack.root / "postgres", port=port)


# --- a three-node NATS cluster ---------------------------------------------------


def nats_node_config(
    name: str,
    port: int,
    cluster_port: int,
    routes: list[int],
    store_dir: Path,
    log: Path,
    authorization: str = "",
) -> str:
    """The whole nats-server configuration of one cluster node; ``authorization``: the
    block shared.natsconf generates (every node has the same users)."""
    route_urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
    return (
        authorization
        + f"""
server_name: {name}
listen: 127.0.0.1:{port}
log_file: "{log}"
jetstream {{
  store_dir: "{store_dir}"
}}
cluster {{
  name: faults
  listen: 127.0.0.1:{cluster_port}
  routes: [{route_urls}]
}}
"""
    )


@dataclass
class NatsCluster:
    root: Path
    ports: list[int] = field(default_factory=list)
    cluster_ports: list[int] = field(default_factory=list)
    nodes: list[Proc | None] = field(default_factory=list)
    authorization: str = ""
    """shared.natsconf's ``authorization {}`` block for every node."""

    @property
    def url(self) -> str:
        """The first node (clients learn the others from it)."""
        return f"nats://127.0.0.1:{self.ports[0]}"

    def start(self, size: int = 3) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        taken: set[int] = set()
        for _ in range(size * 2):
            p = free_port()
            while p in taken:
                p = free_port()
            taken.add(p)
        ports = sorted(taken)
        self.ports, self.cluster_ports = ports[:size], ports[size:]
        self.nodes = [None] * size
        for i in range(size):
            self.start_node(i, wait=False)
        for p in self.ports:
            wait_port(p)

    def start_node(self, i: int, wait: bool = True) -> None:
        node_dir = self.root / f"n{i + 1}"
        node_dir.mkdir(parents=True, exist_ok=True)
        log = node_dir / "nats.log"
        conf = node_dir / "nats.conf"
        routes = [p for j, p in enumerate(self.cluster_ports) if j != i]
        conf.write_text(
            nats_node_config(
                f"faults-n{i + 1}",
                self.ports[i],
                self.cluster_ports[i],
                routes,
                node_dir / "jetstream",
                log,
                self.authorization,
            )
        )
        popen = subprocess.Popen(
            [_venv_bin("nats-server"), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.nodes[i] = Proc(f"nats-n{i + 1}", popen, f"nats://127.0.0.1:{self.ports[i]}", log)
        if wait:
            wait_port(self.ports[i])

    def kill_node(self, i: int) -> None:
        node = self.nodes[i]
        if node is not None:
            node.stop(signal.SIGKILL)
            self.nodes[i] = None

    def stop(self) -> None:
        for i, node in enumerate(self.nodes):
            if node is not None:
                node.stop()
                self.nodes[i] = None
        time.sleep(0.1)
