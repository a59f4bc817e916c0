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

# How many replicas the services give their streams (from configuration; the
# setting's name is the one the stream-configuration work settles on).
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
    res = await run_fault(cluster_stack, fault, run_dir, seed)
    ROWS.extend(res.rows)
    assert res.failures() == []
