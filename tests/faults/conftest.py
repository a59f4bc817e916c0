"""The fault suite's stack (one for the module, as `make run` starts it) and its run
directory, where every fault's ledger, events and rows and the final table go."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.faults.check import Row, table
from tests.faults.harness import FaultStack

ROOT = Path(__file__).resolve().parents[2]
ROWS: list[Row] = []
RUN: dict[str, Path] = {}


def full() -> bool:
    return os.environ.get("FAULTS_FULL") == "1"


@pytest.fixture(scope="session")
def run_dir() -> Path:
    """``$FAULTS_DIR``, else ``.faults/<UTC time>/`` in the repository."""
    given = os.environ.get("FAULTS_DIR")
    path = Path(given) if given else ROOT / ".faults" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path.mkdir(parents=True, exist_ok=True)
    RUN["dir"] = path
    return path


@pytest.fixture(scope="session")
def seed() -> int:
    value = int(os.environ.get("FAULTS_SEED") or random.randrange(1_000_000))
    print(f"[faults] FAULTS_SEED={value}")
    return value


@pytest.fixture(scope="module")
async def fault_stack(run_dir: Path) -> AsyncIterator[FaultStack]:
    fs = FaultStack.start(run_dir / "stack")
    try:
        await fs.connect()
        yield fs
    finally:
        await fs.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    text = table(ROWS)
    terminalreporter.write_sep("=", "fault suite")
    terminalreporter.write_line(text)
    if "dir" in RUN:
        out = RUN["dir"] / "faults-table.md"
        out.write_text(text + "\n")
        terminalreporter.write_line(f"(also in {out})")
