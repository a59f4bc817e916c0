"""`make run` never moves to another port silently: a taken preferred port is reported
loudly (which one, and the one used), or refused with DEVSTACK_STRICT_PORTS=1."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest
from devstack.__main__ import banner
from devstack.ports import Moved, PortTaken, moved_warning, pick_port
from devstack.stack import Stack


@contextlib.contextmanager
def taken() -> object:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield int(s.getsockname()[1])
    finally:
        s.close()


def test_a_free_preferred_port_is_used_and_nothing_is_reported() -> None:
    with taken() as port:
        pass  # now free again
    moved: list[Moved] = []
    assert pick_port("NATS", port, moved) == port
    assert moved == []
    assert moved_warning(moved, ".devstack/env") == ""


def test_a_taken_port_is_replaced_and_reported_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVSTACK_STRICT_PORTS", raising=False)
    moved: list[Moved] = []
    with taken() as port:
        used = pick_port("NATS", port, moved)
    assert used != port
    assert moved == [Moved("NATS", port, used)]
    text = moved_warning(moved, ".devstack/env")
    assert "WARNING" in text and f"port {port} is taken -> using {used}" in text
    assert ".devstack/env" in text


def test_strict_ports_refuse_a_taken_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVSTACK_STRICT_PORTS", "1")
    with taken() as port, pytest.raises(PortTaken, match=str(port)):
        pick_port("PostgreSQL", port, [])


def test_the_banner_repeats_the_warning_and_shows_the_first_commands(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    stack.env = {
        "NATS_URL": "nats://127.0.0.1:40001",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5440/postgres",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": "2525",
        "OPERATOR_EMAIL": "operator@example.com",
        "OPERATOR_PASSWORD": "pw",
    }
    stack.moved = [Moved("NATS", 4250, 40001)]
    stack.metrics_ports = {"account": 9251}
    text = banner(stack, 1.0, "mail")
    assert "port 4250 is taken -> using 40001" in text
    # the stack is not in ./.devstack: the commands name its env file
    assert f"bin/provisioning --env-file {tmp_path / 'env'} login --operator" in text
    assert f"bin/provisioning --env-file {tmp_path / 'env'} status" in text
    assert f"-m devstack req identity.v1.health --dir {tmp_path}" in text
    assert "http://127.0.0.1:9251/metrics" in text
    assert "uv run" not in text
    assert "Ctrl-C stops everything" in text


def test_the_docs_show_no_command_that_needs_uv_on_the_path() -> None:
    # uv may be only in .tools/bin (the Makefile installs it there): the README and the
    # docs show .venv/bin/... or make targets instead of `uv run ...`
    root = Path(__file__).resolve().parents[2]
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        assert "uv run" not in doc.read_text(), doc.name


def test_in_the_default_directory_the_commands_are_the_plain_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    stack = Stack(tmp_path / ".devstack")
    stack.env = {
        "NATS_URL": "nats://127.0.0.1:4250",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5440/postgres",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": "2525",
        "OPERATOR_EMAIL": "operator@example.com",
        "OPERATOR_PASSWORD": "pw",
    }
    text = banner(stack, 1.0, "mail")
    assert "bin/provisioning login --operator\n" in text
    assert "bin/provisioning status\n" in text
    assert "WARNING" not in text
