"""docs/asyncapi.json is a valid AsyncAPI 3 document: the official parser
(@asyncapi/parser, pinned in tools/asyncapi-check) reports no error, every event has
its own data schema, errors carry a code enum, and the auth header is a security
scheme. (tests/unit/test_contract.py checks the file is what the code generates.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from shared.asyncapi import build
from shared.contracts.event_data import EVENT_DATA
from shared.errors import STATUS_BY_CODE

from shared import subjects as s

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tools" / "asyncapi-check"
DOC = ROOT / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build()


def _walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}/{k}", k, v
            yield from _walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}/{i}")


def test_no_openapi_discriminator_objects(doc: dict[str, Any]) -> None:
    bad = [p for p, k, v in _walk(doc) if k == "discriminator" and not isinstance(v, str)]
    assert bad == []


def test_every_event_has_its_own_data_schema(doc: dict[str, Any]) -> None:
    events = [
        v
        for v in vars(s).values()
        if isinstance(v, str) and v.startswith(("events.", "ingest.")) and not v.endswith(">")
    ]
    assert sorted(EVENT_DATA) == sorted(events)
    schemas = doc["components"]["schemas"]
    for subject in events:
        msg = doc["components"]["messages"][subject.replace(".", "_")]
        data_ref = msg["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        name = data_ref.rsplit("/", 1)[-1]
        assert name in schemas, subject
        assert schemas[name].get("properties"), f"{subject}: {name} has no fields"


def test_error_replies_name_their_codes_and_tokens_are_a_security_scheme(
    doc: dict[str, Any],
) -> None:
    body = doc["components"]["schemas"]["ErrorBody"]
    assert body["properties"]["code"]["enum"] == list(STATUS_BY_CODE)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerToken"]["scheme"] == "bearer"
    assert schemes["natsUserPassword"]["type"] == "userPassword"
    ops = doc["operations"]
    assert "security" not in ops["identity_v1_auth_login"]
    assert ops["identity_v1_users_add"]["security"] == [
        {"$ref": "#/components/securitySchemes/bearerToken"}
    ]
    # two contract models share a class name: each keeps its own schema
    engage_role = ops["engage_v1_roles_create"]["reply"]["messages"][0]["$ref"]
    reply = doc["components"]["messages"][engage_role.rsplit("/", 1)[-1]]
    ref = reply["payload"]["$ref"].rsplit("/", 1)[-1]
    assert "engage_account_id" in doc["components"]["schemas"][ref]["properties"]


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: `make asyncapi-check` needs Node.js 18+ and npm")
    if (CHECK / "node_modules" / "@asyncapi" / "parser").is_dir():
        return
    proc = subprocess.run(
        [npm, "ci", "--prefix", str(CHECK), "--ignore-scripts", "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=280,
    )
    if proc.returncode != 0:
        pytest.skip(f"npm ci failed (npm registry unreachable?): {proc.stderr[-500:]}")


def test_the_official_parser_reports_no_error() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: `make asyncapi-check` needs Node.js 18+")
    _npm_ci()
    proc = subprocess.run(
        [node, str(CHECK / "check.mjs"), str(DOC)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s)" in proc.stdout
    json.loads(DOC.read_text())  # and it is plain JSON


# The official AsyncAPI 3.0.0 JSON schema, vendored from @asyncapi/specs 6.11.1
# (schemas/3.0.0-without-$id.json): checked without Node.js or the network.
SCHEMA = Path(__file__).parent / "data" / "asyncapi-3.0.0.schema.json"


def _schema_errors(document: dict[str, Any]) -> list[str]:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator.iter_errors(document)
    ]


def test_committed_document_is_valid_against_the_official_asyncapi_3_json_schema() -> None:
    assert _schema_errors(json.loads(DOC.read_text())) == []


def test_the_vendored_schema_refuses_a_broken_document() -> None:
    broken = json.loads(DOC.read_text())
    broken["asyncapi"] = "2.6.0"
    del broken["info"]
    assert _schema_errors(broken)
