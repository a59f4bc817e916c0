"""The containerised deployment: the compose file is valid Compose and every
service it runs is a module that exists in the code."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def test_compose_file_validates_against_the_compose_spec_schema() -> None:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _modules(command: list[str] | str) -> list[str]:
    text = command if isinstance(command, str) else " ".join(command)
    return re.findall(r"python -m ([\w.]+)", text)


def test_every_service_command_runs_a_module_that_exists() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    ours = {
        n: s for n, s in spec["services"].items() if s.get("image", "").startswith("provisioning")
    }
    assert {"account", "identity", "invite-scheduler", "engage-import", "keys"} <= set(ours)
    for name, svc in ours.items():
        modules = _modules(svc["command"])
        assert modules, f"{name} runs no python module"
        for module in modules:
            found = importlib.util.find_spec(module)
            assert found is not None, f"{name}: module {module} does not exist"
            if found.submodule_search_locations:  # a package: it needs a __main__
                assert importlib.util.find_spec(f"{module}.__main__"), (
                    f"{name}: {module} has no __main__"
                )
        hc = svc.get("healthcheck", {}).get("test")
        if hc:
            for module in _modules(hc):
                assert importlib.util.find_spec(module), (
                    f"{name}: health check module {module} missing"
                )


def test_each_service_reaches_only_its_own_database() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    for name, prefix, db in [
        ("account", "ACCOUNT", "account"),
        ("identity", "IDENTITY", "identity"),
        ("invite-scheduler", "INVITES", "invite_scheduler"),
        ("engage-import", "ENGAGE", "engage_import"),
    ]:
        url = spec["services"][name]["environment"][f"{prefix}_DATABASE_URL"]
        assert url == f"postgresql://{db}:{db}@postgres:5432/{db}"
    init = (ROOT / "deploy/postgres/init.sql").read_text()
    assert (
        "REVOKE ALL ON DATABASE account, identity, invite_scheduler, engage_import FROM PUBLIC"
        in init
    )
