"""Integrations, and the directory requests other systems send with their tokens.

An **integration** is another system's credential for
``ingest.directory.user.requested``: an account admin who may manage users creates
it with a role no higher than their own; its token (``itg_`` + 256 random bits) is
shown once, and identity keeps only its SHA-256. A directory request is checked
exactly as ``users.add`` by its principal (the integration, or a session) would be:
its account only, roles within its own permissions, ``acknowledge_charges`` and the
purchase permission alike. A request without a valid token changes nothing; its
outcome event says ``unauthenticated``. A request never carries a plaintext
password, PIN or security answer: ``assign_credentials`` takes ``password_hash``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.auth import Perm, Principal
from shared.contracts import identity as c
from shared.errors import (
    AppError,
    Conflict,
    Forbidden,
    LimitExceeded,
    NotFound,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from shared.faults import Transient
from shared.ids import new_id
from shared.messaging.outbox import make_event
from shared.messaging.payload import find_problem

from identity import domain
from identity.handlers.common import SOURCE, Actor, Deps, _account, _custom_role, _find_role
from identity.handlers.provisioning import parse_entries, provision
from identity.ports import UnitOfWork
from shared import subjects as s

TOKEN_PREFIX = "itg_"
SessionVerifier = Callable[[str], Principal]


def token_hash(token: str) -> str:
    """Tokens carry 256 random bits: a plain SHA-256 is enough to keep them at rest
    (no password stretching needed), and it makes the lookup one index probe."""
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: dict[str, Any], token: str | None = None) -> c.Integration:
    return c.Integration(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        role=row["role_name"],
        role_id=row["role_id"],
        token_prefix=row["token_prefix"],
        created_by=row["created_by"],
        created_at=row.get("created_at"),
        revoked_at=row.get("revoked_at"),
        token=token,
    )


async def create_integration(
    cmd: c.CreateIntegration, uow: UnitOfWork, p: Principal
) -> c.Integration:
    """The caller must manage users and hold every permission of the role."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with uow:
        await _account(uow, cmd.account_id)
        custom = [_custom_role(r) for r in await uow.roles.for_account(cmd.account_id)]
        role = _find_role(cmd.role, custom)
        if role is None:
            raise ValidationFailed.single("role", "no such role")
        if not p.operator and not role.permissions <= p.permissions:
            raise Forbidden(
                "An integration may not hold permissions the caller lacks.",
                {"missing": sorted(role.permissions - p.permissions)},
            )
        row = {
            "id": new_id("itg"),
            "account_id": cmd.account_id,
            "name": cmd.name,
            "role_id": role.id,
            "role_name": role.name,
            "token_hash": token_hash(token),
            "token_prefix": token[:12],
            "created_by": p.user_id[:64],
            "created_at": datetime.now(UTC),
        }
        await uow.integrations.add(row)
        await uow.commit()
    return _view(row, token)


async def list_integrations(
    cmd: c.ListIntegrations, uow: UnitOfWork, p: Principal
) -> c.IntegrationPage:
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        rows = await uow.integrations.page(cmd.account_id, cmd.cursor, cmd.limit)
    items = [_view(r) for r in rows[: cmd.limit]]
    nxt = items[-1].id if len(rows) > cmd.limit else None
    return c.IntegrationPage(items=items, next_cursor=nxt)


async def revoke_integration(
    cmd: c.RevokeIntegration, uow: UnitOfWork, p: Principal
) -> c.Integration:
    """From the commit on, every request with its token is ``unauthenticated``."""
    p.require(Perm.USERS_MANAGE, cmd.account_id)
    async with uow:
        row = await uow.integrations.get(cmd.account_id, cmd.integration_id, lock=True)
        if row is None:
            raise NotFound("No such integration.", {"integration_id": cmd.integration_id})
        row = await uow.integrations.revoke(cmd.integration_id)
        await uow.commit()
    return _view(row)


# --- directory requests ------------------------------------------------------------


def bearer(headers: dict[str, str]) -> str:
    """The token of the ``Authorization: Bearer`` header ("" when there is none)."""
    raw = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = raw.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def authenticate(
    headers: dict[str, str], uow: UnitOfWork, verify_session: SessionVerifier
) -> Principal:
    """The principal of a directory request: an integration (live, not revoked), with
    its role's permissions as they are now, or a session."""
    token = bearer(headers)
    if not token:
        raise Unauthenticated("Missing 'Authorization: Bearer <token>' header.")
    if not token.startswith(TOKEN_PREFIX):
        return verify_session(token)
    row = await uow.integrations.by_token_hash(token_hash(token))
    if row is None or row["revoked_at"] is not None:
        raise Unauthenticated("The integration token is not valid.")
    role = domain.predefined_role(row["role_id"])
    if role is None:
        custom = [_custom_role(r) for r in await uow.roles.for_account(row["account_id"])]
        role = next((r for r in custom if r.id == row["role_id"]), None)
    return Principal(
        user_id=row["id"],
        account_id=row["account_id"],
        permissions=role.permissions if role else frozenset(),
        extra={"integration_id": row["id"]},
    )


def _plaintext_secrets(user: dict[str, Any]) -> list[dict[str, Any]]:
    setup = user.get("setup")
    if not isinstance(setup, dict):
        return []
    return [
        field_error(
            f"user.setup.{f}",
            "plaintext secrets are not accepted on directory requests; "
            "give password_hash (argon2id or bcrypt PHC string) or send an invitation",
        )
        for f in c.SECRET_FIELDS
        if f in setup
    ]


def _failed(uow: UnitOfWork, req: c.UserRequested, err: AppError) -> None:
    errors = err.details.get("errors") or [{"field": "user", "message": err.message}]
    uow.add_event(
        make_event(
            SOURCE,
            s.USER_PROVISIONING_FAILED,
            {
                "request_id": req.request_id,
                "account_id": req.account_id,
                "code": err.code,
                "message": err.message,
                "errors": errors,
            },
            key=req.request_id,
        )
    )


def _problem(req: c.UserRequested) -> tuple[str, str] | None:
    """The first problem of the request's user entry if any (reported on the outcome
    event); ``ValueError`` for an envelope that cannot be answered at all."""
    problem = find_problem(req.model_dump())
    if problem is not None and not problem[0].startswith("user"):
        raise ValueError(f"{problem[0]} {problem[1]}")
    return problem


async def provision_requested(
    req: c.UserRequested,
    headers: dict[str, str],
    uow: UnitOfWork,
    deps: Deps,
    verify_session: SessionVerifier,
    *,
    wait_for_account: bool = False,
) -> None:
    """``ingest.directory.user.requested``: like ``users.add`` by the request's principal,
    for one entry; the outcome is ``user.added`` (with ``request_id``) or
    ``user.provisioning_failed``. Runs in the consumer's transaction. A request
    refused for its credentials records nothing (its request id stays free for the
    account's own systems); any other outcome is recorded once per (account, request
    id). Raises ``ValueError`` for an envelope that cannot be answered at all.

    With ``wait_for_account`` (the request is young), an account identity has not
    heard of yet raises :class:`Transient`: its ``account.created`` event may still be
    on its way, so the consumer retries; once the request is older, it fails
    ``not_found`` as before."""
    problem = _problem(req)
    try:
        p = await authenticate(headers, uow, verify_session)
        p.require(Perm.USERS_MANAGE, req.account_id)
    except (Unauthenticated, Forbidden) as err:
        _failed(uow, req, err)
        return
    if await uow.provisioning.seen(req.account_id, req.request_id):
        return
    if wait_for_account and await uow.accounts.get(req.account_id) is None:
        raise Transient(f"account {req.account_id} not heard of yet")
    try:
        if problem is not None:
            raise ValidationFailed(f"The field {problem[0]} {problem[1]}.", [field_error(*problem)])
        plaintext = _plaintext_secrets(req.user)
        if plaintext:
            raise ValidationFailed(
                "A directory request may not carry plaintext secrets.", plaintext
            )
        async with uow.savepoint():
            done = await provision(
                uow,
                deps,
                Actor(p, req.acknowledge_charges),
                req.account_id,
                parse_entries([req.user], "user", deps.hasher),
                allocation_id=f"prov-{req.request_id}"[:64],
                extra_event_data={"request_id": req.request_id},
            )
            await uow.provisioning.record(
                req.request_id, req.account_id, done.rows[0]["id"], "added"
            )
    except (ValidationFailed, NotFound, Conflict, LimitExceeded, Forbidden) as err:
        await uow.provisioning.record(req.request_id, req.account_id, None, "failed")
        _failed(uow, req, err)
