"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from shared.auth import Principal, TokenSigner
from shared.contracts import identity as c
from shared.contracts.account import AccountFacts
from shared.contracts.common import Empty, Ok
from shared.contracts.event_data import CostCenterCreated, SiteCreated, SiteRemoved, SiteUpdated
from shared.contracts.invites import InviteEvent
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import Handler, Route, RpcRouter
from shared.service import Service

from identity import handlers as h
from identity.adapters.clients import (
    AccountDirectory,
    AccountInventory,
    InviteRedeemer,
    RecoveryRedeemer,
)
from identity.adapters.hashing import Argon2Hasher
from identity.config import IdentityConfig
from identity.handlers import recovery as rc
from identity.ports import UnitOfWork as Uow
from shared import subjects as s

ACCOUNT_FACT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]
INVITE_EVENTS = "events.invites.invite.*"


def _ingest_id(subject: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    """Provisioning requests are deduplicated by their ``request_id`` (bare or in a
    CloudEvent envelope) per credential: a message with someone else's request id but
    without their token cannot use that id up (the use case then dedupes per account)."""
    inner = data.get("data") if isinstance(data.get("data"), dict) else data
    rid = inner.get("request_id") if isinstance(inner, dict) else None
    if not rid:
        return ""
    who = h.token_hash(h.bearer(headers))[:16]
    return f"req:{who}:{str(rid)[:160]}"


def _email_key(cmd: c.Login | c.StartRecovery) -> str:
    return str(cmd.email).strip().lower()


def _token_key(cmd: c.CompleteActivation | c.CompleteRecovery) -> str:
    return str(cmd.token)[:8]


#: subject, request, reply, summary, use case (called with ``cmd``, ``uow``, ``p``,
#: ``deps`` or ``read_uow`` as its parameters name them), options
ROUTES: tuple[Route, ...] = (
    Route(
        s.USERS_FACTS,
        c.UserFactsQuery,
        c.UserFacts,
        "(internal) Snapshots of users a consumer has not heard of yet.",
        h.user_facts,
        public=True,  # no caller's token: the asking service's own background work
        internal=True,  # only other services (NATS permissions and INTERNAL_KEY)
        budgeted=False,
    ),
    Route(s.AUTH_LOGIN, c.Login, c.Session, "Sign in.", h.login, public=True, throttle=_email_key),
    Route(s.AUTH_CHANGE_PASSWORD, c.ChangePassword, Ok, "Change own password.", h.change_password),
    Route(
        s.RECOVERY_START,
        c.StartRecovery,
        Ok,
        "Forgot password: email a single-use recovery link (always ok).",
        rc.start_recovery,
        public=True,
        throttle=_email_key,
    ),
    Route(
        s.RECOVERY_COMPLETE,
        c.CompleteRecovery,
        c.User,
        "Recover: link token + new password (+ security answer when one is set).",
        rc.complete_recovery,
        public=True,
        throttle=_token_key,
    ),
    Route(s.USERS_CHANGE_PIN, c.ChangePin, Ok, "Change own voicemail PIN.", rc.change_pin),
    Route(
        s.AUTH_LOGOUT,
        Empty,
        Ok,
        "End the session in the Authorization header, on every service.",
        h.logout,
    ),
    Route(
        s.ACTIVATION_COMPLETE,
        c.CompleteActivation,
        c.User,
        "Accept an invitation: token + new password.",
        h.complete_activation,
        public=True,
        throttle=_token_key,
    ),
    Route(
        s.AUTH_MINT,
        c.Mint,
        c.Session,
        "(internal) A session for a portal switch.",
        h.mint,
        internal=True,
    ),
    Route(s.USERS_ADD, c.AddUsers, c.UserList, "Add 1 to 25 users.", h.add_users),
    Route(s.USERS_GET, c.GetUser, c.User, "Get a user.", h.get_user),
    Route(s.USERS_LIST, c.ListUsers, c.UserPage, "List users.", h.list_users),
    Route(
        s.USERS_UPDATE,
        c.UpdateUser,
        c.User,
        "Change a user (email, type, extension, phone, number, role, status ...).",
        h.update_user,
    ),
    Route(
        s.USERS_SET_EMERGENCY_LOCATION,
        c.SetEmergencyLocation,
        c.User,
        "Set the emergency response location.",
        h.set_emergency_location,
    ),
    Route(
        s.USERS_ASSIGN_CREDENTIALS,
        c.AssignUserCredentials,
        c.User,
        "Activate a user by assigning credentials.",
        h.assign_credentials,
    ),
    Route(s.USERS_REMOVE, c.RemoveUser, c.User, "Remove a user.", h.remove_user),
    Route(
        s.USERS_RESET_CREDENTIALS,
        c.ResetUserCredentials,
        c.User,
        "Reset an activated user's password and/or PIN.",
        h.reset_credentials,
    ),
    Route(
        s.EXTENSIONS_CREATE, c.CreateExtension, c.Extension, "New extension.", h.create_extension
    ),
    Route(s.EXTENSIONS_LIST, c.ListExtensions, c.ExtensionPage, "Extensions.", h.list_extensions),
    Route(
        s.EXTENSIONS_ASSIGN,
        c.AssignExtension,
        c.User,
        "Create a user on an unassigned extension.",
        h.assign_extension,
    ),
    Route(
        s.EXTENSIONS_REMOVE,
        c.RemoveExtension,
        c.Extension,
        "Delete an Unassigned extension.",
        h.remove_extension,
    ),
    Route(s.EMAILS_CHECK, c.CheckEmail, c.EmailAvailability, "Is an email free?", h.check_email),
    Route(s.ROLES_LIST, c.ListRoles, c.RoleList, "Predefined and custom roles.", h.list_roles),
    Route(s.ROLES_CREATE, c.CreateRole, c.Role, "A custom role.", h.create_role),
    Route(
        s.ROLES_SET_DEFAULT,
        c.SetDefaultRole,
        c.Role,
        "The account's default role for new users.",
        h.set_default_role,
    ),
    Route(
        s.INTEGRATIONS_CREATE,
        c.CreateIntegration,
        c.Integration,
        "A token for another system's directory requests (shown once).",
        h.create_integration,
    ),
    Route(
        s.INTEGRATIONS_LIST,
        c.ListIntegrations,
        c.IntegrationPage,
        "The account's integrations (no tokens).",
        h.list_integrations,
    ),
    Route(
        s.INTEGRATIONS_REVOKE,
        c.RevokeIntegration,
        c.Integration,
        "Revoke an integration: its token is refused from then on.",
        h.revoke_integration,
    ),
)


def register(rpc: RpcRouter, svc: Service, config: IdentityConfig) -> None:
    def nc() -> Any:
        return svc.broker.connection

    deps = h.Deps(
        hasher=Argon2Hasher(config.hash_threads),
        signer=TokenSigner(config.token_private_key, config.session_ttl_seconds),
        inventory=AccountInventory(
            nc, config.token_private_key, config.internal_key, config.request_timeout
        ),
        invitations=InviteRedeemer(
            nc, config.token_private_key, config.internal_key, config.request_timeout
        ),
        max_failed_logins=config.max_failed_logins,
        lockout_seconds=config.lockout_seconds,
    )

    recovery_tokens = RecoveryRedeemer(
        nc, config.token_private_key, config.internal_key, config.request_timeout
    )

    def uow() -> Uow:
        return cast(Uow, svc.uow())

    rpc.serve(
        ROUTES,
        uow=uow,
        read_uow=lambda: cast(Uow, svc.uow(read_only=True)),
        deps=lambda: deps,
        tokens=lambda: recovery_tokens,
    )
    _account_consumers(svc)
    _invite_consumer(svc)
    _directory_consumer(svc, config, deps)

    async def bootstrap() -> None:
        if config.operator_email and config.operator_password:
            await h.bootstrap_operator(
                uow(), deps.hasher, config.operator_email, config.operator_password
            )

    svc.on_started.append(bootstrap)
    directory = AccountDirectory(
        nc, config.token_private_key, config.internal_key, config.request_timeout
    )
    for ep in rpc.endpoints.values():
        if "account_id" in ep.request.model_fields:
            ep.handler = _learning_accounts(ep.handler, directory, uow)


def _account_consumers(svc: Service) -> None:
    """The account facts, sites and cost centers identity keeps."""

    async def on_account_event(d: Delivery, u: UnitOfWork) -> None:
        iu = cast(Uow, u)
        try:
            if d.subject == s.SITE_REMOVED:
                await h.on_site_event(d.event(SiteRemoved), iu)
            elif d.subject == s.SITE_UPDATED:
                await h.on_site_event(d.event(SiteUpdated), iu)
            elif d.subject == s.SITE_CREATED:
                await h.on_site_event(d.event(SiteCreated), iu)
            elif d.subject == s.COST_CENTER_CREATED:
                await h.project_cost_center(d.event(CostCenterCreated), iu)
            else:
                await h.project_account(d.event(AccountFacts), iu)
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
    svc.subscribe(
        Subscription(
            name="identity-account-org",
            stream=s.STREAM_ACCOUNT,
            filter_subjects=[h.SITE_EVENTS, s.COST_CENTER_CREATED],
            handler=on_account_event,
        )
    )


def _invite_consumer(svc: Service) -> None:
    """The latest invite of each user."""

    async def on_invite_events(ds: list[Delivery], u: UnitOfWork) -> None:
        events = [(d.event(InviteEvent), str(d.data.get("time") or "")) for d in ds]
        await h.project_invites(events, cast(Uow, u))

    svc.subscribe(
        Subscription(
            name="identity-invites",
            stream=s.STREAM_INVITES,
            filter_subjects=[INVITE_EVENTS],
            batch_handler=on_invite_events,
        )
    )


def _directory_consumer(svc: Service, config: IdentityConfig, deps: h.Deps) -> None:
    """Directory requests other systems send with their tokens."""

    async def on_user_requested(d: Delivery, u: UnitOfWork) -> None:
        req = d.event(c.UserRequested)
        # eventual consistency: the account may be created a moment before identity
        # hears of it; a young request waits for it (retried), an older one fails
        age = (datetime.now(UTC) - d.published_at).total_seconds() if d.published_at else None
        young = age is not None and age < config.directory_unknown_account_wait_seconds
        try:
            await h.provision_requested(
                req,
                d.headers,
                cast(Uow, u),
                deps,
                svc.verifier.verify,
                wait_for_account=young,
            )
        except ValueError as exc:  # the envelope itself is malformed
            raise Poison(str(exc)) from exc

    svc.subscribe(
        Subscription(
            name="identity-directory-requests",
            stream=s.STREAM_INGEST_DIRECTORY,
            filter_subjects=[s.INGEST_USER_REQUESTED],
            handler=on_user_requested,
            message_id=_ingest_id,
            batch=10,
        )
    )


def _learning_accounts(fn: Handler, directory: AccountDirectory, uow: Callable[[], Uow]) -> Handler:
    """Retry a command once after learning an account identity had not heard of yet,
    so an operator can add users the moment the account exists."""

    async def handler(cmd: Any, p: Principal | None) -> Any:
        try:
            return await fn(cmd, p)
        except NotFound as err:
            account_id = getattr(cmd, "account_id", None)
            if not account_id or err.details.get("account_id") != account_id:
                raise
            if err.message != h.NO_SUCH_ACCOUNT or not await h.learn_account(
                account_id, uow(), directory
            ):
                raise
            return await fn(cmd, p)

    return handler
