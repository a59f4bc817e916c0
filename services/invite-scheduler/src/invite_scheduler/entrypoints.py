"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

from shared.messaging.rpc import RpcRouter
from shared.service import Service

from invite_scheduler.config import InviteSchedulerConfig


def register(rpc: RpcRouter, svc: Service, config: InviteSchedulerConfig) -> None:
    """Endpoints and consumers of the service (health is built in)."""
