"""The operator CLI's pure parts: the env file, the CSV mapping, the token cache, the
import's retry of a refused batch (with a fake connection)."""

from __future__ import annotations

import io
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from provisioning_cli.client import describe
from provisioning_cli.config import (
    CachedSession,
    Connection,
    TokenStore,
    load_env,
    parse_env_file,
)
from provisioning_cli.csvmap import CsvError, read_rows, row_to_entry, write_results
from provisioning_cli.importer import UserImport
from provisioning_cli.main import _assignments, event_subject
from shared.errors import AppError, LimitExceeded, NotFound, ValidationFailed, field_error

# --- env file -------------------------------------------------------------------------


def test_env_file_reads_plain_exported_and_quoted_lines() -> None:
    text = """
# written by make run
NATS_URL=nats://127.0.0.1:4250
export NATS_USER='client'
export NATS_PASSWORD="p@ss word"
NATS_INBOX_PREFIX=_INBOX.client  # trailing comment
OPERATOR_PASSWORD='it'\\''s'
not an assignment
=nothing
"""
    env = parse_env_file(text)
    assert env == {
        "NATS_URL": "nats://127.0.0.1:4250",
        "NATS_USER": "client",
        "NATS_PASSWORD": "p@ss word",
        "NATS_INBOX_PREFIX": "_INBOX.client",
        "OPERATOR_PASSWORD": "it's",
    }


def test_environment_wins_over_the_env_file(tmp_path: Path) -> None:
    f = tmp_path / "env"
    f.write_text("NATS_URL=nats://file:1\nNATS_USER=fromfile\n")
    env = load_env(f, {"NATS_URL": "nats://env:2", "UNRELATED": "x"})
    assert env["NATS_URL"] == "nats://env:2"
    assert env["NATS_USER"] == "fromfile"
    assert "UNRELATED" not in env
    conn = Connection.from_env(env)
    assert (conn.url, conn.user, conn.password, conn.inbox_prefix) == (
        "nats://env:2",
        "fromfile",
        None,
        None,
    )


def test_the_default_env_file_is_optional(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_env(None, {}) == {}
    (tmp_path / ".devstack").mkdir()
    (tmp_path / ".devstack" / "env").write_text("export NATS_URL='nats://here:4250'\n")
    assert load_env(None, {})["NATS_URL"] == "nats://here:4250"


def test_the_default_env_file_of_another_stack_lends_no_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `make run` stack's .devstack/env in the current directory says nothing about
    the server NATS_URL names (a test harness's, say): none of its users apply."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".devstack").mkdir()
    (tmp_path / ".devstack" / "env").write_text(
        "NATS_URL='nats://here:4250'\nOBSERVER_NATS_USER='observer'\n"
        "OBSERVER_NATS_PASSWORD='of-the-other-stack'\n"
    )
    env = load_env(None, {"NATS_URL": "nats://elsewhere:4222", "NATS_USER": "client"})
    assert env == {"NATS_URL": "nats://elsewhere:4222", "NATS_USER": "client"}
    # the same server: the file fills in what the environment lacks
    same = load_env(None, {"NATS_URL": "nats://here:4250"})
    assert same["OBSERVER_NATS_PASSWORD"] == "of-the-other-stack"


# --- token cache ----------------------------------------------------------------------


def test_token_cache_is_private_and_keyed_by_url(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "cfg")
    later = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    store.put("nats://a:1", CachedSession("tok-a", later, "op@example.com", None, True))
    store.put("nats://b:2", CachedSession("tok-b", later, "x@example.com", "acc_1"))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    a = store.get("nats://a:1")
    assert a is not None and a.token == "tok-a" and a.operator and not a.expired()
    b = store.get("nats://b:2")
    assert b is not None and b.account_id == "acc_1"
    assert store.remove("nats://a:1") and store.get("nats://a:1") is None
    assert store.get("nats://b:2") is not None
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_session_close_to_expiry_counts_as_expired() -> None:
    soon = datetime.fromtimestamp(time.time() + 30, UTC).isoformat()
    assert CachedSession("t", soon, "e").expired()
    assert CachedSession("t", "garbage", "e").expired()


# --- CSV ------------------------------------------------------------------------------


def test_a_row_maps_onto_a_user_entry() -> None:
    entry = row_to_entry(
        {
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "user_type": "standard",
            "job_title": "",
            "time_zone": "Europe/London",
            "language": "en-GB",
            "setup": "schedule_invite",
            "send_at": "2026-12-01T09:00",
            "invite_time_zone": "America/New_York",
            "emergency_location": '{"street": "1 Main St", "city": "Boston", "country": "US"}',
        }
    )
    assert entry == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "user_type": "standard",
        "regional": {"time_zone": "Europe/London", "language": "en-GB"},
        "emergency_location": {"street": "1 Main St", "city": "Boston", "country": "US"},
        "setup": {
            "option": "schedule_invite",
            "send_at": "2026-12-01T09:00",
            "time_zone": "America/New_York",
        },
    }


def test_setup_defaults_and_credentials_columns() -> None:
    base = {"first_name": "A", "last_name": "B", "email": "a@b.co", "user_type": "mobile"}
    assert row_to_entry(base, "activate_later")["setup"] == {"option": "activate_later"}
    creds = row_to_entry(
        base
        | {"setup": "assign_credentials", "password": "S3cret!pass", "temporary_password": "no"}
    )
    assert creds["setup"] == {
        "option": "assign_credentials",
        "password": "S3cret!pass",
        "temporary_password": False,
    }
    with pytest.raises(ValueError, match="setup"):
        row_to_entry(base | {"setup": "teleport"})
    with pytest.raises(ValueError, match="emergency_location"):
        row_to_entry(base | {"emergency_location": "{not json"})


def test_read_rows_numbers_lines_and_keeps_bad_rows() -> None:
    text = (
        "First_Name,last_name,email,user_type,emergency_location\n"
        "A,B,a@example.com,standard,\n"
        'C,D,c@example.com,standard,"[1,2]"\n'
    )
    rows = read_rows(io.StringIO(text))
    assert [(r.line, r.email, r.error is None) for r in rows] == [
        (2, "a@example.com", True),
        (3, "c@example.com", False),
    ]
    assert rows[0].entry["setup"] == {"option": "send_invite"}
    with pytest.raises(CsvError, match="favourite_colour"):
        read_rows(io.StringIO("email,favourite_colour\nx@y.z,blue\n"))
    with pytest.raises(CsvError):
        read_rows(io.StringIO(""))


def test_result_file_columns() -> None:
    buf = io.StringIO()
    write_results(buf, [{"row": 2, "email": "a@b.co", "status": "added", "user_id": "u1"}])
    assert buf.getvalue().splitlines() == ["row,email,status,user_id,error", "2,a@b.co,added,u1,"]


# --- import retries -----------------------------------------------------------------


class FakeClient:
    """users.add refuses entries whose email starts with ``bad`` (validation) or
    ``taken`` (already a user: found again by users.list)."""

    def __init__(self) -> None:
        self.adds: list[list[str]] = []

    async def call(
        self, subject: str, payload: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> dict[str, Any]:
        assert payload is not None
        if subject == "identity.v1.users.list":
            return {"items": [{"id": "u-old", "email": payload["query"].upper()}]}
        emails = [u["email"] for u in payload["users"]]
        self.adds.append(emails)
        assert len(emails) <= 25
        errors = [
            field_error(f"users[{i}].email", msg, index=i)
            for i, e in enumerate(emails)
            for prefix, msg in (("bad", "not an email"), ("taken", "already belongs to a user"))
            if e.startswith(prefix)
        ]
        if errors:
            raise ValidationFailed("problems", errors)
        return {"users": [{"id": f"id-{e}"} for e in emails]}


async def test_a_refused_batch_is_sent_again_without_the_refused_entries() -> None:
    lines = ["first_name,last_name,email,user_type"]
    for i in range(30):
        prefix = "bad" if i == 3 else "taken" if i == 27 else "ok"
        lines.append(f"F,L,{prefix}{i}@example.com,standard")
    rows = read_rows(io.StringIO("\n".join(lines) + "\n"))
    fake = FakeClient()
    progress: list[int] = []
    results = await UserImport(fake, "acc", on_done=progress.append).run(rows)  # type: ignore[arg-type]
    assert sum(progress) == 30
    assert [len(b) for b in fake.adds] == [25, 24, 5, 4]
    status = {r.email: (r.status, r.user_id, r.error) for r in results}
    assert status["bad3@example.com"] == ("failed", None, "validation_failed: email: not an email")
    assert status["taken27@example.com"] == ("exists", "u-old", None)
    assert status["ok0@example.com"] == ("added", "id-ok0@example.com", None)
    assert sum(1 for r in results if r.status == "added") == 28


async def test_a_batch_refused_as_a_whole_fails_each_of_its_rows() -> None:
    class NoLicenses(FakeClient):
        async def call(
            self, subject: str, payload: dict[str, Any] | None = None, *, timeout: float = 10.0
        ) -> dict[str, Any]:
            raise LimitExceeded("No free standard license.", {"user_type": "standard"})

    rows = read_rows(io.StringIO("first_name,last_name,email,user_type\nA,B,a@x.co,standard\n"))
    results = await UserImport(NoLicenses(), "acc").run(rows)  # type: ignore[arg-type]
    assert results[0].status == "failed"
    assert results[0].error == "limit_exceeded: No free standard license."


# --- small helpers ----------------------------------------------------------------------


def test_error_descriptions_name_the_code_fields_and_a_hint() -> None:
    err: AppError = ValidationFailed(
        "2 problems", [field_error("users[1].email", "not an email", index=1)]
    )
    text = describe(err)
    assert "validation_failed" in text and "entry 1: users[1].email: not an email" in text
    assert "nothing changed" in text


def test_set_assignments_nest_and_parse_json() -> None:
    assert _assignments(["a.b=1", "c=text", "d=true"]) == {"a": {"b": 1}, "c": "text", "d": True}
    assert event_subject("identity.user.added") == "events.identity.user.added"
    assert event_subject("events.account.>") == "events.account.>"


async def test_a_refusal_about_the_account_stops_the_import() -> None:
    class NoAccount(FakeClient):
        async def call(
            self, subject: str, payload: dict[str, Any] | None = None, *, timeout: float = 10.0
        ) -> dict[str, Any]:
            assert payload is not None
            self.adds.append([u["email"] for u in payload["users"]])
            raise NotFound("No such account.")

    lines = ["first_name,last_name,email,user_type"]
    lines += [f"F,L,u{i}@example.com,standard" for i in range(60)]
    rows = read_rows(io.StringIO("\n".join(lines) + "\n"))
    fake = NoAccount()
    job = UserImport(fake, "acc_missing")  # type: ignore[arg-type]
    results = await job.run(rows)
    assert len(fake.adds) == 1  # the other two batches were not sent
    assert job.aborted is not None and job.aborted.code == "not_found"
    assert [r.status for r in results] == ["failed"] * 60
    assert results[-1].error == "not sent (not_found)"


def test_events_tail_connects_as_the_observer_when_its_credentials_are_set() -> None:
    env = {
        "NATS_URL": "nats://h:1",
        "NATS_USER": "client",
        "NATS_PASSWORD": "c",
        "NATS_INBOX_PREFIX": "_INBOX_client",
    }
    assert Connection.observer_from_env(env) is None
    env |= {
        "OBSERVER_NATS_USER": "observer",
        "OBSERVER_NATS_PASSWORD": "o",
        "OBSERVER_NATS_INBOX_PREFIX": "_INBOX_observer",
    }
    obs = Connection.observer_from_env(env)
    assert obs == Connection("nats://h:1", "observer", "o", None, "_INBOX_observer")
    assert Connection.from_env(env).user == "client"
