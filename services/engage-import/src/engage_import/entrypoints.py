"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

from shared.messaging.rpc import RpcRouter
from shared.service import Service

from engage_import.config import EngageImportConfig


def register(rpc: RpcRouter, svc: Service, config: EngageImportConfig) -> None:
    """Endpoints and consumers of the service (health is built in)."""
