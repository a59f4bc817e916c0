"""`make run` as a user runs it: the launcher starts NATS, PostgreSQL, SMTP and the
four services from PyPI packages, they answer health and the operator can sign in;
SIGTERM stops everything it started."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import psutil
import pytest
from devstack.stack import read_env_file

pytestmark = pytest.mark.slow


async def test_make_run_brings_the_stack_up_and_stops_it(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL", "SMTP_HOST")
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run", "--dir", str(tmp_path / "stack")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    out: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(out)
        assert "The provisioning stack is up" in text, text
        nats_url = re.search(r"NATS\s+(nats://\S+)", text).group(1)  # type: ignore[union-attr]
        op = re.search(r"Operator\s+(\S+)\s+/\s+(\S+)", text)
        assert op, text
        # connect as the banner says: with the client credentials from the env file
        env = read_env_file(tmp_path / "stack" / "env")
        assert env["NATS_URL"] == nats_url
        nc = await nats.connect(
            nats_url,
            user=env["NATS_USER"],
            password=env["NATS_PASSWORD"],
            inbox_prefix=env["NATS_INBOX_PREFIX"],
        )
        try:
            for subject in (
                "account.v1.health",
                "identity.v1.health",
                "invites.v1.health",
                "engage.v1.health",
            ):
                msg = await nc.request(subject, b"{}", timeout=5)
                assert json.loads(msg.data)["status"] == "ok"
            msg = await nc.request(
                "identity.v1.auth.login",
                json.dumps({"email": op.group(1), "password": op.group(2)}).encode(),
                timeout=10,
            )
            assert "token" in json.loads(msg.data), msg.data
        finally:
            await nc.close()
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert len(children) >= 6  # nats, postgres (+ its workers), four services
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    _gone, alive = psutil.wait_procs(
        [psutil.Process(p) for p in children if psutil.pid_exists(p)], timeout=20
    )
    assert not alive, f"left running: {alive}"
