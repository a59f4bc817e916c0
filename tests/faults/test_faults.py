"""The fault suite (docs/reliability.md, "Fault suite"). Plain `pytest` runs the
short version (a few faults, small load); `make test-faults` (FAULTS_FULL=1) runs
every fault and the three-node NATS cluster."""

from __future__ import annotations

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
