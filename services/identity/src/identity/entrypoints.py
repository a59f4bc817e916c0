"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

from typing import cast

from shared import subjects as s
from shared.auth import Principal, TokenSigner
from shared.contracts import identity as c
from shared.db import UnitOfWork
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import RpcRouter
from shared.service import Service

from identity import handlers as h
from identity.adapters.hashing import Argon2Hasher
from identity.adapters.uow import IdentityUnitOfWork
from identity.config import IdentityConfig

ACCOUNT_FACT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]


def register(rpc: RpcRouter, svc: Service, config: IdentityConfig) -> None:
    hasher = Argon2Hasher()
    signer = TokenSigner(config.token_private_key, config.session_ttl_seconds)

    def uow() -> IdentityUnitOfWork:
        return cast(IdentityUnitOfWork, svc.uow())

    @rpc.endpoint(s.AUTH_LOGIN, c.Login, c.Session, public=True, summary="Sign in.")
    async def login(cmd: c.Login, p: Principal | None) -> c.Session:
        return await h.login(cmd, uow(), hasher, signer)

    async def on_account_event(d: Delivery, u: UnitOfWork) -> None:
        data = d.data.get("data")
        if not isinstance(data, dict):
            raise Poison("event without data")
        try:
            await h.project_account(data, cast(IdentityUnitOfWork, u))
        except ValueError as exc:
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="identity-account-facts",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=ACCOUNT_FACT_EVENTS,
            handler=on_account_event,
        )
    )

    async def bootstrap() -> None:
        if config.operator_email and config.operator_password:
            await h.bootstrap_operator(uow(), hasher, config.operator_email, config.operator_password)

    svc.on_started.append(bootstrap)
