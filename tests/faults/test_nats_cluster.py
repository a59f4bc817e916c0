"""The full fault suite's three-node NATS cluster (its own stack, after the other
faults' stack has stopped): streams with three replicas, one node killed under load."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.conftest import ROWS, full
from tests.faults.harness import FaultStack
from tests.faults.load import Workload
from tests.faults.scenarios import Fault, run_fault

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(not full(), reason="full fault suite only (make test-faults)"),
]

# How many replicas the services give the streams they own (configuration:
# docs/reliability.md, "Streams and consumers").
STREAM_REPLICAS_ENV = {"STREAM_REPLICAS": "3"}


@pytest.fixture(scope="module")
async def cluster_stack(run_dir: Path) -> AsyncIterator[FaultStack]:
    fs = FaultStack.start(run_dir / "cluster", STREAM_REPLICAS_ENV, cluster=True)
    try:
        await fs.connect()
        yield fs
    finally:
        await fs.close()


async def _kill_node(fs: FaultStack, load: Workload) -> None:
    assert fs.cluster is not None
    await asyncio.sleep(3.0)
    fs.cluster.kill_node(1)
    fs.note("SIGKILL nats node 2 of 3")
    await asyncio.sleep(10.0)
    fs.cluster.start_node(1)
    fs.note("nats node 2 started again")


async def test_three_node_nats_cluster_with_a_node_killed(
    cluster_stack: FaultStack, run_dir: Path, seed: int
) -> None:
    fault = Fault(
        "nats cluster R3, node killed",
        _kill_node,
        "one of three nodes killed (-9)",
        load_seconds=15.0,
    )
    # every stream a service owns really is replicated on all three nodes
    for stream in (
        "EVENTS_ACCOUNT",
        "EVENTS_IDENTITY",
        "EVENTS_INVITES",
        "EVENTS_ENGAGE",
        "INGEST_TELEPHONY",
        "INGEST_DIRECTORY",
    ):
        info = await cluster_stack.js.stream_info(stream)
        assert info.config.num_replicas == 3, (stream, info.config.num_replicas)
    res = await run_fault(cluster_stack, fault, run_dir, seed)
    ROWS.extend(res.rows)
    assert res.failures() == []
