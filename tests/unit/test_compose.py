"""The containerised deployment: the compose file is valid Compose, every service it
runs is a module that exists in the code, and it is hardened (docs/deployment.md):
pinned images, restart policies, no port published without authentication beyond this
machine, no secret in the file, resource limits, stop grace periods, HTTP health
checks without a Python process, a multi-stage non-root image."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _interpolate(value: str) -> str:
    """``${NAME:-default}`` -> default (what compose uses when NAME is unset)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return spec


def _modules(command: list[str] | str) -> list[str]:
    text = command if isinstance(command, str) else " ".join(command)
    return re.findall(r"python -m ([\w.]+)", text)


def test_every_service_command_runs_a_module_that_exists() -> None:
    spec = _spec()
    ours = {
        n: s
        for n, s in spec["services"].items()
        if _interpolate(s.get("image", "")).startswith("provisioning")
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


def test_each_service_reaches_only_its_own_database_with_a_generated_password() -> None:
    spec = _spec()
    for name in ("account", "identity", "invite-scheduler", "engage-import"):
        env = spec["services"][name].get("environment", {})
        # the URL (its own role, a generated password) comes from the keys container's
        # service.env in the service's own volume (tests/unit/test_natsconf.py)
        assert not [k for k in env if k.endswith("DATABASE_URL")], name
    init = (ROOT / "deploy/postgres/init.sql").read_text()
    assert (
        "REVOKE ALL ON DATABASE account, identity, invite_scheduler, engage_import FROM PUBLIC"
        in init
    )
    statements = [line for line in init.splitlines() if not line.startswith("--")]
    assert "PASSWORD" not in "\n".join(statements).upper()
    pg = spec["services"]["postgres"]
    assert "POSTGRES_PASSWORD" not in pg["environment"]
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/provisioning/")


SECRET_NAME = re.compile(r"(PASSWORD|_KEY|SECRET|TOKEN)$")


def test_no_secret_is_written_in_the_compose_file() -> None:
    spec = _spec()
    for name, svc in spec["services"].items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), name
        for key in env:
            assert not SECRET_NAME.search(key), f"{name}: {key} in the compose file"
    # the operator's password: a compose secret from the environment, no default
    assert spec["secrets"]["operator_password"] == {"environment": "OPERATOR_PASSWORD"}
    assert "operator_password" in spec["services"]["identity"]["secrets"]
    assert "/run/secrets/operator_password" in " ".join(spec["services"]["identity"]["command"])


# major.minor.patch (PostgreSQL numbers its exact releases major.minor)
PINNED = re.compile(r"^([\w./-]+:v?\d+\.\d+\.\d+|postgres:\d+\.\d+)(-[\w.-]+)?$")


def test_every_image_is_pinned_to_an_exact_version() -> None:
    for name, svc in _spec()["services"].items():
        image = _interpolate(svc["image"])
        assert PINNED.match(image), f"{name}: {image} is not an exact version"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for arg in re.findall(r"^ARG \w+_IMAGE=(\S+)$", dockerfile, re.M):
        assert PINNED.match(arg), arg


def test_every_service_restarts_stops_gracefully_and_has_resource_limits() -> None:
    for name, svc in _spec()["services"].items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure:3"), name
        assert svc.get("stop_grace_period"), name
        limits = svc["deploy"]["resources"]["limits"]
        assert limits.get("memory") and limits.get("cpus"), name


def test_no_port_is_published_beyond_this_machine_without_authentication() -> None:
    for name, svc in _spec()["services"].items():
        for port in svc.get("ports", []):
            published = _interpolate(str(port))
            # by default everything listens on 127.0.0.1 only; NATS (every connection
            # authenticated) may be opened with NATS_PUBLISH_ADDRESS
            assert published.startswith("127.0.0.1:"), f"{name}: {published}"
            assert not published.endswith(":8222"), "NATS monitoring has no authentication"
            if "${" in str(port):
                assert name == "nats" and str(port).endswith(":4222:4222"), port


def test_health_checks_are_http_and_start_no_python_process() -> None:
    spec = _spec()
    for name, svc in spec["services"].items():
        test = svc.get("healthcheck", {}).get("test")
        if name == "keys":
            assert test is None  # a one-shot
            continue
        assert test, f"{name} has no health check"
        assert "python" not in " ".join(test), f"{name}: a Python process per check"
    for name in ("account", "identity", "invite-scheduler", "engage-import"):
        svc = spec["services"][name]
        port = svc["environment"]["METRICS_PORT"]
        assert svc["healthcheck"]["test"] == [
            "CMD",
            "busybox",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            f"http://127.0.0.1:{port}/readyz",
        ]
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]


def test_the_image_is_multi_stage_non_root_without_build_tools() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) >= 3, "busybox, build and final stages"
    final = stages[-1]
    assert "pip install" not in final and "apt-get" not in final
    assert "COPY --from=build /app /app" in final
    assert "COPY --from=busybox /bin/busybox /usr/local/bin/busybox" in final
    user = re.findall(r"^USER (\S+)$", final, re.M)
    assert user and user[-1] not in ("root", "0")


def test_the_grafana_dashboard_uses_only_documented_metrics() -> None:
    import json

    dashboard = json.loads((ROOT / "deploy/grafana-dashboard.json").read_text())
    documented = set(
        re.findall(r"`(provisioning_\w+)`", (ROOT / "docs/observability.md").read_text())
    )
    used: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"provisioning_\w+", target["expr"]))
    suffixes = ("_bucket", "_sum", "_count")
    names = {next((u.removesuffix(s) for s in suffixes if u.endswith(s)), u) for u in used}
    assert names and names <= documented, names - documented
