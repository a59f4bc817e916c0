"""``python -m shared.asyncapi``: the AsyncAPI 3.0 document of every service's
subjects, generated from the registered endpoints and the contract models
(requests *and* replies, which FastStream's own generator leaves out)."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import subjects as s
from shared.auth import generate_keypair
from shared.contracts.common import ErrorReply
from shared.contracts.event_data import EVENT_DATA, EventData
from shared.contracts.events import CloudEvent
from shared.errors import STATUS_BY_CODE

SERVICES = [
    ("account", "account.main", "account.config", "AccountConfig"),
    ("identity", "identity.main", "identity.config", "IdentityConfig"),
    (
        "invite-scheduler",
        "invite_scheduler.main",
        "invite_scheduler.config",
        "InviteSchedulerConfig",
    ),
    ("engage-import", "engage_import.main", "engage_import.config", "EngageImportConfig"),
]


def _key(subject: str) -> str:
    return subject.replace(".", "_").replace(">", "all").replace("*", "any")


def _asyncapi_schema(node: Any) -> Any:
    """pydantic's JSON Schema as an AsyncAPI Schema Object: no OpenAPI-style
    ``discriminator`` object (AsyncAPI's is a property name; each variant of a tagged
    union already pins its tag with ``const``)."""
    if isinstance(node, dict):
        return {
            k: _asyncapi_schema(v)
            for k, v in node.items()
            if not (k == "discriminator" and isinstance(v, dict) and "propertyName" in v)
        }
    if isinstance(node, list):
        return [_asyncapi_schema(v) for v in node]
    return node


class _Schemas:
    """Every model of the document, named once: pydantic qualifies the names of
    models that share a class name (two ``Role`` classes, two ``CreateRole`` ...)."""

    def __init__(self) -> None:
        self._models: list[type[BaseModel]] = []

    def ref(self, model: type[BaseModel]) -> dict[str, Any]:
        if model not in self._models:
            self._models.append(model)
        return {"$ref": f"__model__{self._models.index(model)}"}

    def resolve(self, doc: dict[str, Any]) -> dict[str, Any]:
        refs, top = models_json_schema(
            [(m, "validation") for m in self._models],
            ref_template="#/components/schemas/{model}",
        )
        by_index = {f"__model__{i}": refs[(m, "validation")] for i, m in enumerate(self._models)}
        schemas = dict(sorted(top.get("$defs", {}).items()))
        # error codes: the closed set every error reply carries
        body = schemas.get("ErrorBody")
        if body is not None:
            body["properties"]["code"] = {
                "type": "string",
                "enum": list(STATUS_BY_CODE),
                "title": "Code",
                "description": "Stable machine-readable error code.",
            }

        def fix(node: Any) -> Any:
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref in by_index:
                    return by_index[ref]
                return {k: fix(v) for k, v in node.items()}
            if isinstance(node, list):
                return [fix(v) for v in node]
            return node

        out: dict[str, Any] = fix(doc)
        out["components"]["schemas"] = _asyncapi_schema(schemas)
        return out


BEARER = {"$ref": "#/components/securitySchemes/bearerToken"}
SECURITY_SCHEMES = {
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "The NATS message header `Authorization: Bearer <token>`: a session token from "
            "`identity.v1.auth.login` or `account.v1.portals.switch` (or an integration "
            "token). Every subject needs it except `identity.v1.auth.login`, "
            "`identity.v1.activation.complete` and `<service>.v1.health`."
        ),
    },
    "natsUserPassword": {
        "type": "userPassword",
        "description": (
            "NATS connection authentication: `NATS_USER` and `NATS_PASSWORD` (or a "
            "credentials file, `NATS_CREDS`) of a role: client (public request subjects, "
            "replies on its own `NATS_INBOX_PREFIX`), ingest (`ingest.>`) or a service."
        ),
    },
}


CORRELATION_REPLY = {
    "type": "string",
    "description": "The request's X-Correlation-Id, or the one the service made for it.",
}
TRACEPARENT = {
    "type": "string",
    "description": "W3C Trace Context (docs/observability.md); optional.",
}


ERROR_REPLY_MESSAGE = {
    "name": "ErrorReply",
    "summary": "Every failure: {error: {code, message, details}}; code is one of the enum.",
    "headers": {
        "type": "object",
        "properties": {
            "Nats-Service-Error-Code": {
                "type": "string",
                "description": "HTTP-like status of the code (400, 401, 403, ...).",
            },
            "Nats-Service-Error": {"type": "string"},
            "X-Correlation-Id": CORRELATION_REPLY,
        },
    },
}


@dataclass
class _Doc:
    """The parts of the document being built."""

    models: _Schemas
    channels: dict[str, Any] = field(default_factory=dict)
    operations: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)


def _services() -> list[tuple[str, Any]]:
    """Each service built (not started) with throwaway keys, to read its endpoints."""
    priv, pub = generate_keypair()
    built = []
    for service, main_mod, cfg_mod, cfg_cls in SERVICES:
        main = importlib.import_module(main_mod)
        cfg_type = getattr(importlib.import_module(cfg_mod), cfg_cls)
        extra = {"token_private_key": priv} if "token_private_key" in cfg_type.model_fields else {}
        config = cfg_type(token_public_key=pub, database_url="postgresql://x@localhost/x", **extra)
        built.append((service, main.build_service(config)))
    return built


def _request_message(doc: _Doc, ep: Any) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Correlation-Id": {"type": "string"}, "traceparent": TRACEPARENT}
    if not ep.public:
        headers["Authorization"] = {
            "type": "string",
            "pattern": "^Bearer .+$",
            "description": "Bearer session token.",
        }
    if ep.internal:
        headers["X-Internal-Key"] = {"type": "string"}
    return {
        "name": ep.request.__name__,
        "payload": doc.models.ref(ep.request),
        "headers": {
            "type": "object",
            "properties": headers,
            "required": [h for h in ("Authorization",) if h in headers],
        },
    }


def _endpoint(doc: _Doc, service: str, queue: str, ep: Any) -> None:
    k = _key(ep.subject)
    req_name = f"{k}_request"
    doc.messages[req_name] = _request_message(doc, ep)
    reply_msgs = [{"$ref": "#/components/messages/ErrorReply"}]
    if ep.reply is not None:
        doc.messages[f"{k}_reply"] = {
            "name": ep.reply.__name__,
            "payload": doc.models.ref(ep.reply),
            "headers": {"type": "object", "properties": {"X-Correlation-Id": CORRELATION_REPLY}},
        }
        reply_msgs.insert(0, {"$ref": f"#/components/messages/{k}_reply"})
    doc.channels[k] = {
        "address": ep.subject,
        "messages": {"request": {"$ref": f"#/components/messages/{req_name}"}},
    }
    if ep.internal and ep.public:  # a service's own background work: no session
        auth = "X-Internal-Key only (service to service, no session token)"
    else:
        auth = "public" if ep.public else "Authorization: Bearer <token>"
        if ep.internal:
            auth += " + X-Internal-Key (service to service)"
    doc.operations[k] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{k}"},
        "summary": ep.summary,
        "description": f"Service: {service}. Queue group: {queue}. Auth: {auth}.",
        "reply": {"messages": reply_msgs},
        "x-service": service,
    }
    if not ep.public:
        doc.operations[k]["security"] = [BEARER]


def _event(doc: _Doc, subject: str, envelope: dict[str, Any]) -> None:
    k = _key(subject)
    # a subject without an entry still documents (test_asyncapi flags it)
    data_model = EVENT_DATA.get(subject, EventData)
    kind = (
        {"const": subject.removeprefix("events.")}
        if subject.startswith("events.")
        else {"type": "string"}
    )
    doc.messages[k] = {
        "name": subject,
        "title": f"{subject} ({data_model.__name__})",
        "payload": {
            "allOf": [
                envelope,
                {
                    "type": "object",
                    "properties": {"type": kind, "data": doc.models.ref(data_model)},
                },
            ]
        },
        "headers": {
            "type": "object",
            "properties": {"Nats-Msg-Id": {"type": "string"}, "traceparent": TRACEPARENT},
        },
    }
    doc.channels[k] = {
        "address": subject,
        "messages": {"event": {"$ref": f"#/components/messages/{k}"}},
    }
    inbound = subject.startswith("ingest.")
    doc.operations[f"publish_{k}"] = {
        "action": "receive" if inbound else "send",
        "channel": {"$ref": f"#/channels/{k}"},
        "summary": (
            "Inbound event from another system (JetStream); needs the Authorization "
            "header where CONTRACT.md says so."
            if inbound
            else "JetStream event in a CloudEvents envelope; `data` is "
            f"{data_model.__name__} (docs/internal-contract.md)."
        ),
    }


def _event_subjects() -> list[str]:
    return [
        value
        for value in (getattr(s, name) for name in dir(s))
        if isinstance(value, str)
        and value.startswith(("events.", "ingest."))
        and not value.endswith(">")
    ]


def build() -> dict[str, Any]:
    doc = _Doc(_Schemas())
    doc.messages["ErrorReply"] = ERROR_REPLY_MESSAGE | {"payload": doc.models.ref(ErrorReply)}
    for service, svc in _services():
        for ep in sorted(svc.rpc.endpoints.values(), key=lambda e: e.subject):
            _endpoint(doc, service, svc.queue, ep)
    envelope = doc.models.ref(CloudEvent)
    for subject in _event_subjects():
        _event(doc, subject, envelope)
    return doc.models.resolve(
        {
            "asyncapi": "3.0.0",
            "info": {
                "title": "Account and user provisioning",
                "version": "1.0.0",
                "description": (
                    "Request/reply subjects of the four services and their JetStream events."
                ),
            },
            "defaultContentType": "application/json",
            "servers": {
                "nats": {
                    "host": "localhost:4222",
                    "protocol": "nats",
                    "security": [{"$ref": "#/components/securitySchemes/natsUserPassword"}],
                }
            },
            "channels": dict(sorted(doc.channels.items())),
            "operations": dict(sorted(doc.operations.items())),
            "components": {
                "messages": doc.messages,
                "schemas": {},
                "securitySchemes": SECURITY_SCHEMES,
            },
        }
    )


def main() -> None:
    json.dump(build(), sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
