"""``python -m shared.asyncapi``: the AsyncAPI 3.0 document of every service's
subjects, generated from the registered endpoints and the contract models
(requests *and* replies, which FastStream's own generator leaves out)."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from pydantic import BaseModel

from shared import subjects as s
from shared.auth import generate_keypair
from shared.contracts.common import ErrorReply
from shared.contracts.events import CloudEvent

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


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build() -> dict[str, Any]:
    priv, pub = generate_keypair()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    err_ref = _schema(ErrorReply, schemas)
    messages["ErrorReply"] = {
        "name": "ErrorReply",
        "payload": err_ref,
        "headers": {
            "type": "object",
            "properties": {
                "Nats-Service-Error-Code": {"type": "string"},
                "Nats-Service-Error": {"type": "string"},
            },
        },
    }
    for service, main_mod, cfg_mod, cfg_cls in SERVICES:
        main = importlib.import_module(main_mod)
        cfg_type = getattr(importlib.import_module(cfg_mod), cfg_cls)
        extra = {"token_private_key": priv} if "token_private_key" in cfg_type.model_fields else {}
        config = cfg_type(token_public_key=pub, database_url="postgresql://x@localhost/x", **extra)
        svc = main.build_service(config)
        for ep in sorted(svc.rpc.endpoints.values(), key=lambda e: e.subject):
            k = _key(ep.subject)
            req_name = f"{k}_request"
            messages[req_name] = {
                "name": ep.request.__name__,
                "payload": _schema(ep.request, schemas),
            }
            reply_msgs = [{"$ref": "#/components/messages/ErrorReply"}]
            if ep.reply is not None:
                messages[f"{k}_reply"] = {
                    "name": ep.reply.__name__,
                    "payload": _schema(ep.reply, schemas),
                }
                reply_msgs.insert(0, {"$ref": f"#/components/messages/{k}_reply"})
            channels[k] = {
                "address": ep.subject,
                "messages": {"request": {"$ref": f"#/components/messages/{req_name}"}},
            }
            auth = "public" if ep.public else "Authorization: Bearer <token>"
            if ep.internal:
                auth += " + X-Internal-Key (service to service)"
            operations[k] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{k}"},
                "summary": ep.summary,
                "description": f"Service: {service}. Queue group: {svc.queue}. Auth: {auth}.",
                "reply": {"messages": reply_msgs},
                "x-service": service,
            }
    event_ref = _schema(CloudEvent, schemas)
    for name in dir(s):
        value = getattr(s, name)
        if (
            isinstance(value, str)
            and value.startswith(("events.", "ingest."))
            and not value.endswith(">")
        ):
            k = _key(value)
            messages[k] = {
                "name": value,
                "payload": event_ref,
                "headers": {"type": "object", "properties": {"Nats-Msg-Id": {"type": "string"}}},
            }
            channels[k] = {
                "address": value,
                "messages": {"event": {"$ref": f"#/components/messages/{k}"}},
            }
            operations[f"publish_{k}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{k}"},
                "summary": "JetStream event (CloudEvents envelope); "
                "payloads in docs/internal-contract.md",
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Account and user provisioning",
            "version": "1.0.0",
            "description": (
                "Request/reply subjects of the four services and their JetStream events."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": "localhost:4222", "protocol": "nats"}},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": messages, "schemas": schemas},
    }


def main() -> None:
    json.dump(build(), sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
