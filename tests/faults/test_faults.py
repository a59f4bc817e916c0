"""The fault suite (docs/reliability.md, "Fault suite"). Plain `pytest` runs the
short version (a few faults, small load); `make test-faults` (FAULTS_FULL=1) runs
every fault and the three-node NATS cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.conftest import ROWS, full
from tests.faults.harness import FaultStack
from tests.faults.scenarios import FULL, SHORT, Fault, run_fault

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

FAULTS = FULL if full() else SHORT


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_nothing_acknowledged_is_lost_or_done_twice(
    fault_stack: FaultStack, fault: Fault, run_dir: Path, seed: int
) -> None:
    res = await run_fault(fault_stack, fault, run_dir, seed + FAULTS.index(fault))
    ROWS.extend(res.rows)
    assert res.failures() == []


@pytest.fixture(scope="module")
async def cluster_stack(run_dir: Path) -> AsyncIterator[FaultStack]:
    # streams are created with this many replicas (setting name to be confirmed)
    fs = FaultStack.start(run_dir / "cluster", {"STREAM_REPLICAS": "3"}, cluster=True)
    try:
        await fs.connect()
        yield fs
    finally:
        await fs.close()


async def _kill_node(fs: FaultStack, load: object) -> None:
    assert fs.cluster is not None
    await asyncio.sleep(3.0)
    fs.cluster.kill_node(1)
    fs.note("SIGKILL nats node 2 of 3")
    await asyncio.sleep(10.0)
    fs.cluster.start_node(1)
    fs.note("nats node 2 started again")


@pytest.mark.skipif(not full(), reason="full fault suite only (make test-faults)")
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
