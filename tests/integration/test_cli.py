"""The operator CLI (`provisioning`) against the four services on real NATS and
PostgreSQL. Each command runs in-process through typer's CliRunner, in a worker
thread: the CLI runs its own event loop and NATS connection, as it does from a shell,
while the services keep running on the test's loop."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from provisioning_cli.client import EXIT_BY_CODE, EXIT_CONNECTION, EXIT_FAILURE, EXIT_PARTIAL
from provisioning_cli.main import app
from typer.testing import CliRunner

from tests.support.system import System, email, eventually, uid

runner = CliRunner()


def role_env(system: System, role: str = "client") -> dict[str, str | None]:
    """The CONTRACT.md "Connecting" variables for a NATS role of the test system
    (user, password and inbox prefix when the harness gives roles credentials)."""
    kwargs: dict[str, Any] = {}
    if hasattr(system, "nats_kwargs"):
        kwargs = system.nats_kwargs(role) or {}
    return {
        "NATS_URL": getattr(system, "nats_url", None),
        "NATS_USER": kwargs.get("user"),
        "NATS_PASSWORD": kwargs.get("password"),
        "NATS_INBOX_PREFIX": kwargs.get("inbox_prefix"),
        "NATS_CREDS": kwargs.get("user_credentials")
        if isinstance(kwargs.get("user_credentials"), str)
        else None,
        "OPERATOR_EMAIL": None,
        "OPERATOR_PASSWORD": None,
    }


class Cli:
    def __init__(self, system: System, config_dir: Path, role: str = "client") -> None:
        self.system = system
        self.config_dir = config_dir
        self.role = role

    async def __call__(self, *args: str, env_file: Path | None = None) -> Result:
        env = {"PROVISIONING_CONFIG_DIR": str(self.config_dir)}
        if env_file is None:
            env |= role_env(self.system, self.role)  # type: ignore[arg-type]
        else:  # everything from the file: nothing in the environment may win over it
            env |= dict.fromkeys(role_env(self.system), None)  # type: ignore[arg-type]
        argv = [*(["--env-file", str(env_file)] if env_file else []), *args]
        return await asyncio.to_thread(runner.invoke, app, argv, env=env, catch_exceptions=False)

    async def json(self, *args: str) -> Any:
        result = await self("--json", *args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def write_env_file(path: Path, system: System) -> Path:
    """As `make run` writes it: shell-quoted `export NAME='value'` lines."""
    env = role_env(system) | {
        "OPERATOR_EMAIL": system.operator_email,
        "OPERATOR_PASSWORD": system.operator_password,
    }
    lines = ["# written by make run"]
    for name, value in env.items():
        if value is not None:
            lines.append(f"export {name}='{value}'")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
async def cli(system: System, tmp_path: Path) -> Cli:
    """A signed-in operator (`login --operator` from an env file)."""
    c = Cli(system, tmp_path / "config")
    result = await c("login", "--operator", env_file=write_env_file(tmp_path / "env", system))
    assert result.exit_code == 0, result.output
    return c


async def test_login_caches_the_session_privately_and_status_shows_every_service(
    system: System, tmp_path: Path
) -> None:
    c = Cli(system, tmp_path / "config")
    # not signed in: a clear message and the unauthenticated exit status
    denied = await c("accounts", "list")
    assert denied.exit_code == EXIT_BY_CODE["unauthenticated"]
    assert "provisioning login" in denied.stderr

    env_file = write_env_file(tmp_path / "env", system)
    result = await c("--json", "login", "--operator", env_file=env_file)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["operator"] is True
    assert "token" not in result.stdout  # the token is never printed by login
    cache = tmp_path / "config" / "sessions.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    cached = json.loads(cache.read_text())
    assert list(cached) == [system.nats_url]
    assert cached[system.nats_url]["token"]

    # the cached session works, now from the environment instead of the file
    page = await c.json("accounts", "list", "--limit", "5")
    assert "items" in page

    health = await c.json("status")
    assert {h["service"] for h in health} == {
        "account",
        "identity",
        "invite-scheduler",
        "engage-import",
    }
    assert all(h["status"] == "ok" and h["database"] == "ok" for h in health)
    # each service's instances answer NATS service discovery
    assert all(h["instances"] >= 1 for h in health)
    table = await c("status")
    assert table.exit_code == 0 and "identity" in table.stdout

    out = await c("logout")
    assert out.exit_code == 0
    again = await c("accounts", "list")
    assert again.exit_code == EXIT_BY_CODE["unauthenticated"]


async def test_accounts_create_and_get_with_tables_json_and_error_codes(
    cli: Cli, tmp_path: Path
) -> None:
    name = f"Acme {uid()}"
    created = await cli.json("accounts", "create", name, "--country", "US", "--plan", "ultra")
    assert created["name"] == name and created["status"] == "Active"
    got = await cli.json("accounts", "get", created["id"])
    assert got["id"] == created["id"] and got["plan"] == "ultra"
    table = await cli("accounts", "get", created["id"])
    assert table.exit_code == 0 and created["id"] in table.stdout

    missing = await cli("accounts", "get", uid("acc_"))
    assert missing.exit_code == EXIT_BY_CODE["not_found"]
    assert "not_found" in missing.stderr

    rows = [{"first_name": "A", "last_name": "B", "email": email(), "user_type": "standard"}]
    csv_file = user_csv(tmp_path / "one.csv", rows)
    nowhere = await cli("users", "import", str(csv_file), "--account", uid("acc_"))
    assert nowhere.exit_code == EXIT_BY_CODE["not_found"], nowhere.output
    assert "Stopped sending" in nowhere.stderr

    invalid = await cli("--json", "accounts", "create", name, "--country", "XX", "--plan", "gold")
    assert invalid.exit_code == EXIT_BY_CODE["validation_failed"]
    assert json.loads(invalid.stdout)["error"]["code"] == "validation_failed"
    assert "country" in invalid.stderr and "plan" in invalid.stderr


def user_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(
            f, fieldnames=["first_name", "last_name", "email", "user_type", "time_zone", "setup"]
        )
        w.writeheader()
        w.writerows(rows)
    return path


async def test_users_import_continues_past_bad_rows_and_reruns_without_duplicates(
    cli: Cli, system: System, tmp_path: Path
) -> None:
    acc = await cli.json("accounts", "create", f"Bulk {uid()}", "--country", "US", "--plan", "core")
    bought = await cli(
        "inventory", "buy-licenses", "standard", "60", "--account", acc["id"], "--yes"
    )
    assert bought.exit_code == 0, bought.output
    rows = [
        {
            "first_name": f"Row{i}",
            "last_name": "Bulk",
            "email": email(f"bulk{i}"),
            "user_type": "standard",
            "time_zone": "America/New_York",
            "setup": "activate_later",
        }
        for i in range(60)
    ]
    rows[7]["email"] = "not-an-email"  # line 9 of the file
    rows[41]["user_type"] = "astronaut"  # line 43
    source = user_csv(tmp_path / "users.csv", rows)
    results = tmp_path / "results.csv"

    first = await cli(
        "users", "import", str(source), "--account", acc["id"], "--results", str(results)
    )
    assert first.exit_code == EXIT_PARTIAL, first.output
    assert "58 added" in first.stderr and "2 failed" in first.stderr
    with results.open() as f:
        out = list(csv.DictReader(f))
    assert len(out) == 60
    by_row = {int(r["row"]): r for r in out}
    assert by_row[9]["status"] == "failed" and "email" in by_row[9]["error"]
    assert by_row[43]["status"] == "failed" and "user_type" in by_row[43]["error"]
    added = [r for r in out if r["status"] == "added"]
    assert len(added) == 58 and all(r["user_id"] for r in added)

    page = await system.call(
        "identity.v1.users.list",
        {"account_id": acc["id"], "limit": 500},
        token=await system.operator_token(),
    )
    assert sorted(u["email"] for u in page["items"]) == sorted(r["email"] for r in added)

    # the same file again: everybody already there is recognised, nobody added twice
    second = await cli(
        "--json", "users", "import", str(source), "--account", acc["id"], "--results", str(results)
    )
    assert second.exit_code == EXIT_PARTIAL, second.output
    summary = json.loads(second.stdout)
    assert (summary["added"], summary["exists"], summary["failed"]) == (0, 58, 2)
    with results.open() as f:
        again = {int(r["row"]): r for r in csv.DictReader(f)}
    for line, r in by_row.items():
        if r["status"] == "added":
            assert again[line]["status"] == "exists"
            assert again[line]["user_id"] == r["user_id"]
    page = await system.call(
        "identity.v1.users.list",
        {"account_id": acc["id"], "limit": 500},
        token=await system.operator_token(),
    )
    assert len(page["items"]) == 58

    listed = await cli.json("users", "list", "--account", acc["id"], "--all")
    assert len(listed["items"]) == 58


async def test_events_tail_follows_events_when_the_role_may_read_them(
    system: System, tmp_path: Path
) -> None:
    reader = Cli(system, tmp_path / "config", role="harness")
    tail = asyncio.ensure_future(
        reader("--json", "events", "tail", "--type", "account.account.created", "--count", "1")
    )
    # the subscription starts inside the worker thread: create accounts until one is seen
    for _ in range(100):
        await system.create_account()
        done, _pending = await asyncio.wait({tail}, timeout=0.2)
        if done:
            break
    result = await tail
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["subject"] == "events.account.account.created"
    assert line["event"]["type"] == "account.account.created"


async def test_events_tail_says_so_when_the_client_role_may_not_subscribe(
    system: System, tmp_path: Path
) -> None:
    if not getattr(system, "nats_configured", False):
        pytest.skip("NATS runs without per-role permissions here")
    result = await Cli(system, tmp_path / "config")("events", "tail", "--count", "1")
    assert result.exit_code == EXIT_CONNECTION
    assert "does not let NATS user client subscribe to events" in result.stderr
    assert "OBSERVER_NATS_USER" in result.stderr


async def test_invites_engage_import_and_dead_letters(
    cli: Cli, system: System, tmp_path: Path
) -> None:
    acc = await cli.json(
        "accounts", "create", f"Flow {uid()}", "--country", "US", "--plan", "ultra"
    )
    a = ["--account", acc["id"]]
    assert (await cli("inventory", "buy-licenses", "standard", "3", *a, "--yes")).exit_code == 0
    rows = [
        {
            "first_name": f"Inv{i}",
            "last_name": "Flow",
            "email": email(f"flow{i}"),
            "user_type": "standard",
            "time_zone": "",
            "setup": "send_invite",
        }
        for i in range(3)
    ]
    imported = await cli("users", "import", str(user_csv(tmp_path / "u.csv", rows)), *a)
    assert imported.exit_code == 0, imported.output

    async def invites_sent() -> bool:
        page = await cli.json("invites", "list", *a, "--status", "Sent")
        return len(page["items"]) == 3

    await eventually(invites_sent, timeout=30)
    one = (await cli.json("invites", "list", *a))["items"][0]
    got = await cli.json("invites", "get", one["id"], *a)
    assert got["email"] == one["email"]

    link = await cli.json("engage", "links", "create", "--name", f"CC {uid()}", *a)
    e = ["--engage-account", link["engage_account_id"]]

    async def candidates() -> bool:
        page = await cli.json("engage", "candidates", "list", *e)
        return len(page["items"]) == 3

    await eventually(candidates, timeout=30)
    job = await cli.json("engage", "import", *e, "--role", "Agent", "--all-candidates")
    assert job["status"] == "finished"
    assert job["counts"]["imported"] == 3
    agents = await cli.json("engage", "agents", "list", *e)
    assert sorted(x["email"] for x in agents["items"]) == sorted(r["email"] for r in rows)

    letters = await cli.json("dead-letters", "list")
    assert isinstance(letters, list)
    # the session's database holds other tests' dead letters too, some poison for good:
    # every one is reported, one that fails again does not stop the others, and the
    # exit status says whether all were replayed
    replayed = await cli("--json", "dead-letters", "replay", "--all", "--service", "account")
    rows = json.loads(replayed.output) if replayed.output.strip() else []
    assert all(isinstance(r["replayed"], bool) for r in rows)
    failed = [r for r in rows if not r["replayed"]]
    assert all(r["error"] for r in failed)
    assert replayed.exit_code == (EXIT_FAILURE if failed else 0), replayed.output
    bad = await cli("dead-letters", "replay", "--all", "--service", "nope")
    assert bad.exit_code == 2


async def test_the_installed_console_script_runs_as_a_process(
    system: System, tmp_path: Path
) -> None:
    """`provisioning` as an operator runs it: a separate process, env file in the
    current directory (.devstack/env), JSON on stdout."""
    script = Path(sys.executable).parent / "provisioning"
    assert script.exists()
    (tmp_path / ".devstack").mkdir()
    write_env_file(tmp_path / ".devstack" / "env", system)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "OPERATOR_"))}
    env["PROVISIONING_CONFIG_DIR"] = str(tmp_path / "config")
    proc = await asyncio.create_subprocess_exec(
        str(script),
        "--json",
        "status",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert len(json.loads(out)) == 4
