"""The operator's command line (issue 13, "Done when"): ``provisioning`` run as a
subprocess against the `make run` stack, with its env file and ``--json``, the way an
operator's script would drive it."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from devstack.smtp import read_messages
from provisioning_cli.config import CONNECTION_VARS

from shared import subjects as s
from tests.e2e.conftest import E2E
from tests.support.system import eventually

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).parent / "provisioning")


@dataclass
class Done:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class Cli:
    """``provisioning --env-file <stack env> --json ...`` with its own config dir;
    nothing of the test process's own NATS settings leaks in."""

    def __init__(self, env_file: Path, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.base = [CLI, "--env-file", str(env_file), "--json"]
        self.env = {k: v for k, v in os.environ.items() if k not in CONNECTION_VARS}
        self.env["PROVISIONING_CONFIG_DIR"] = str(config_dir)
        self.env["NO_COLOR"] = "1"
        self.procs: list[asyncio.subprocess.Process] = []

    def other(self, env_file: Path) -> Cli:
        """The same, with another env file (and the same session cache)."""
        c = Cli(env_file, self.config_dir)
        c.procs = self.procs
        return c

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *self.base,
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.procs.append(proc)
        return proc

    async def close(self) -> None:
        """Stop what a failed test left running (a background ``events tail``)."""
        for proc in self.procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def __call__(self, *args: str, expect: int | None = 0) -> Done:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(), 240)
        done = Done(proc.returncode or 0, out.decode(), err.decode())
        if expect is not None:
            assert done.code == expect, f"provisioning {' '.join(args)}: {done}"
        return done


async def following(proc: asyncio.subprocess.Process) -> list[str]:
    """Wait until ``events tail`` says it is subscribed; the stderr lines until then."""
    assert proc.stderr is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        assert line, f"events tail ended early: {seen}"
        seen.append(line)
        if line.startswith("Following "):
            return seen


async def finish(proc: asyncio.subprocess.Process) -> Done:
    out, err = await asyncio.wait_for(proc.communicate(), 240)
    return Done(proc.returncode or 0, out.decode(), err.decode())


def people_csv(path: Path, run: str) -> tuple[list[str], dict[int, str]]:
    """200 rows: 195 good ones and 5 bad ones (by CSV line number, with what is wrong)."""
    bad = {
        12: "email",  # not an email (the service refuses it)
        50: "user_type",  # a type that does not exist (the service)
        99: "first_name",  # missing (the service)
        150: "setup",  # an unknown setup option (the CLI, never sent)
        201: "emergency_location",  # not JSON (the CLI, never sent)
    }
    good: list[str] = []
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["first_name", "last_name", "email", "user_type", "setup", "emergency_location"])
        for line in range(2, 202):  # the header is line 1
            row = [f"Ann{line}", "Op", f"cli{line}.{run}@example.com", "standard", "", ""]
            match bad.get(line):
                case "email":
                    row[2] = f"not-an-email-{run}"
                case "user_type":
                    row[3] = "robot"
                case "first_name":
                    row[0] = ""
                case "setup":
                    row[4] = "teleport"
                case "emergency_location":
                    row[5] = "{oops"
                case _:
                    good.append(row[2])
            w.writerow(row)
    return good, bad


@pytest.fixture
async def cli(e2e: E2E, tmp_path: Path) -> AsyncIterator[Cli]:
    c = Cli(e2e.stack.env_file, tmp_path / "config")
    try:
        yield c
    finally:
        await c.close()


async def test_an_operator_drives_the_stack_with_the_cli(
    e2e: E2E, cli: Cli, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]

    # sign in; the token is cached privately, never printed
    login = (await cli("login", "--operator")).json
    assert login["operator"] is True and "token" not in login
    assert (tmp_path / "config" / "sessions.json").stat().st_mode & 0o777 == 0o600

    acc = (await cli("accounts", "create", f"CLI {run}", "--country", "US", "--plan", "ultra")).json
    account = acc["id"]
    await cli("inventory", "buy-licenses", "standard", "200", "--account", account, "--yes")
    inv = (await cli("inventory", "get", "--account", account)).json
    assert "200" in json.dumps(inv)

    # identity learns the account from its event
    async def identity_knows() -> bool:
        done = await cli("extensions", "list", "--account", account, expect=None)
        return done.code == 0

    await eventually(identity_knows, timeout=60, interval=0.5)

    # the client NATS user may not: without the observer's credentials it says so
    client_only = tmp_path / "client.env"
    client_only.write_text(
        "".join(
            line
            for line in e2e.stack.env_file.read_text().splitlines(True)
            if not line.startswith("OBSERVER_")
        )
    )
    denied = await cli.other(client_only)("events", "tail", "--for", "5", expect=3)
    said = " ".join(denied.err.split())
    assert "may not subscribe to events" in said and "OBSERVER_NATS_USER" in said

    # watch the users being added while the import runs
    tail = await cli.start(
        "events", "tail", "--type", "identity.user.added", "--count", "195", "--for", "180"
    )
    await following(tail)

    people, results = tmp_path / "people.csv", tmp_path / "people.results.csv"
    good, bad = people_csv(people, run)
    imported = await cli("users", "import", str(people), "--account", account, expect=4)
    summary = imported.json
    assert (summary["rows"], summary["added"], summary["exists"], summary["failed"]) == (
        200,
        195,
        0,
        5,
    )
    with results.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 200
    failed = {int(r["row"]): r for r in rows if r["status"] == "failed"}
    assert sorted(failed) == sorted(bad)
    for line, what in bad.items():
        assert what in failed[line]["error"], failed[line]
    assert {r["email"] for r in rows if r["status"] == "added" and r["user_id"]} == set(good)

    tailed = await finish(tail)
    assert tailed.code == 0, tailed
    events = tailed.lines()
    assert {e["subject"] for e in events} == {s.USER_ADDED}
    assert {e["event"]["data"]["email"] for e in events} == set(good)

    # a second run adds nobody: every good row is recognised, the bad ones fail again
    again = (await cli("users", "import", str(people), "--account", account, expect=4)).json
    assert (again["added"], again["exists"], again["failed"]) == (0, 195, 5)
    users = (await cli("users", "list", "--account", account, "--all")).json
    assert len(users["items"]) == 195

    # the invitations go out (send_invite, the default): mail in the stack's Maildir
    assert e2e.stack.maildir is not None
    maildir = e2e.stack.maildir

    def invited() -> bool:
        to = {str(m.get("To", "")).strip().lower() for m in read_messages(maildir)}
        return all(a in to for a in good)

    await eventually(invited, timeout=180, interval=1)
    sent = (await cli("invites", "list", "--account", account, "--status", "Sent", "--all")).json
    assert len(sent["items"]) == 195

    # import them as agents, following the engage events
    link = (
        await cli("engage", "links", "create", "--name", f"Support {run}", "--account", account)
    ).json
    engage = link["engage_account_id"]

    async def candidates() -> bool:
        done = await cli(
            "engage", "candidates", "list", "-e", engage, "--not-imported", "--all", expect=None
        )
        return done.code == 0 and len(done.json["items"]) == 195

    await eventually(candidates, timeout=120, interval=1)
    tail = await cli.start(
        "events", "tail", "--type", "engage.import.finished", "--count", "1", "--for", "180"
    )
    await following(tail)
    job = (await cli("engage", "import", "-e", engage, "--role", "Agent", "--all-candidates")).json
    assert job["status"] == "finished"
    assert job["counts"]["imported"] == 195 and job["counts"]["rejected"] == 0
    finished = (await finish(tail)).lines()
    assert [e["event"]["data"]["import_id"] for e in finished] == [job["id"]]
    agents = (await cli("engage", "agents", "list", "-e", engage, "--all")).json
    assert len(agents["items"]) == 195

    # --for ends a quiet tail
    quiet = await cli("events", "tail", "--type", "account.site.created", "--for", "1")
    assert quiet.lines() == []

    # a poison directory request is dead-lettered; replay --all cannot fix it: exit 1
    async def letters() -> set[int]:
        done = await cli("dead-letters", "list", "--service", "identity")
        return {d["id"] for d in done.json if d["subject"] == s.INGEST_USER_REQUESTED}

    before = await letters()
    ingest = await e2e.stack.connect("ingest")
    try:
        await ingest.jetstream().publish(
            s.INGEST_USER_REQUESTED, b"not json " + run.encode(), headers={"Nats-Msg-Id": run}
        )
    finally:
        await ingest.close()

    async def poisoned() -> set[int]:
        return await letters() - before

    (letter,) = await eventually(poisoned, timeout=60, interval=1)
    replayed = (await cli("dead-letters", "replay", "--all", expect=1)).json
    mine = [r for r in replayed if r["service"] == "identity" and r["id"] == letter]
    assert len(mine) == 1 and mine[0]["replayed"] is False and mine[0]["error"], replayed
    listed = (await cli("dead-letters", "list", "--service", "identity")).json
    assert letter in {d["id"] for d in listed}  # still there: it failed again
