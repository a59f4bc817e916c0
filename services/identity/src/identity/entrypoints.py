"""Subscribers: contract in -> handler -> contract out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from shared.auth import Principal, TokenSigner
from shared.contracts import identity as c
from shared.contracts.common import Empty, Ok
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.messaging.consumer import Delivery, Poison, Subscription
from shared.messaging.rpc import Handler, RpcRouter
from shared.service import Service

from identity import handlers as h
from identity import integrations as itg
from identity.adapters.clients import AccountDirectory, AccountInventory, InviteRedeemer
from identity.adapters.hashing import Argon2Hasher
from identity.config import IdentityConfig
from identity.ports import UnitOfWork as Uow
from shared import subjects as s

ACCOUNT_FACT_EVENTS = [s.ACCOUNT_CREATED, s.ACCOUNT_SETTINGS_UPDATED, s.ACCOUNT_STATUS_CHANGED]
INVITE_EVENTS = "events.invites.invite.*"


def _data(d: Delivery) -> dict[str, Any]:
    data = d.data.get("data")
    if not isinstance(data, dict):
        raise Poison("event without data")
    return data


def _ingest_id(subject: str, data: dict[str, Any], headers: dict[str, str]) -> str:
    """Provisioning requests are deduplicated by their ``request_id`` (bare or in a
    CloudEvent envelope) per credential: a message with someone else's request id but
    without their token cannot use that id up (the use case then dedupes per account)."""
    inner = data.get("data") if isinstance(data.get("data"), dict) else data
    rid = inner.get("request_id") if isinstance(inner, dict) else None
    if not rid:
        return ""
    who = itg.token_hash(itg.bearer(headers))[:16]
    return f"req:{who}:{str(rid)[:160]}"


def register(rpc: RpcRouter, svc: Service, config: IdentityConfig) -> None:
    def nc() -> Any:
        return svc.broker.connection

    deps = h.Deps(
        hasher=Argon2Hasher(config.hash_threads),
        signer=TokenSigner(config.token_private_key, config.session_ttl_seconds),
        inventory=AccountInventory(nc, config.token_private_key, config.internal_key),
        invitations=InviteRedeemer(nc, config.token_private_key, config.internal_key),
        max_failed_logins=config.max_failed_logins,
        lockout_seconds=config.lockout_seconds,
    )

    def uow() -> Uow:
        return cast(Uow, svc.uow())

    def who(p: Principal | None) -> Principal:
        assert p is not None
        return p

    @rpc.endpoint(
        s.AUTH_LOGIN,
        c.Login,
        c.Session,
        public=True,
        throttle=lambda cmd: str(cmd.email).strip().lower(),
        summary="Sign in.",
    )
    async def login(cmd: c.Login, p: Principal | None) -> c.Session:
        return await h.login(cmd, uow(), deps)

    @rpc.endpoint(s.AUTH_CHANGE_PASSWORD, c.ChangePassword, Ok, summary="Change own password.")
    async def change_password(cmd: c.ChangePassword, p: Principal | None) -> Ok:
        return await h.change_password(cmd, uow(), who(p), deps)

    @rpc.endpoint(
        s.AUTH_LOGOUT,
        Empty,
        Ok,
        summary="End the session in the Authorization header, on every service.",
    )
    async def logout(cmd: Empty, p: Principal | None) -> Ok:
        return await h.logout(uow(), who(p))

    @rpc.endpoint(
        s.ACTIVATION_COMPLETE,
        c.CompleteActivation,
        c.User,
        public=True,
        throttle=lambda cmd: str(cmd.token)[:8],
        summary="Accept an invitation: token + new password.",
    )
    async def activate(cmd: c.CompleteActivation, p: Principal | None) -> c.User:
        return await h.complete_activation(cmd, uow(), deps)

    @rpc.endpoint(
        s.AUTH_MINT,
        c.Mint,
        c.Session,
        internal=True,
        summary="(internal) A session for a portal switch.",
    )
    async def mint(cmd: c.Mint, p: Principal | None) -> c.Session:
        return await h.mint(cmd, uow(), who(p), deps)

    @rpc.endpoint(s.USERS_ADD, c.AddUsers, c.UserList, summary="Add 1 to 25 users.")
    async def add(cmd: c.AddUsers, p: Principal | None) -> c.UserList:
        return await h.add_users(cmd, uow(), who(p), deps)

    @rpc.endpoint(s.USERS_GET, c.GetUser, c.User, summary="Get a user.")
    async def get(cmd: c.GetUser, p: Principal | None) -> c.User:
        return await h.get_user(cmd, uow(), who(p))

    @rpc.endpoint(s.USERS_LIST, c.ListUsers, c.UserPage, summary="List users.")
    async def list_users(cmd: c.ListUsers, p: Principal | None) -> c.UserPage:
        return await h.list_users(cmd, uow(), who(p))

    @rpc.endpoint(s.USERS_UPDATE, c.UpdateUser, c.User, summary="Change a user.")
    async def update(cmd: c.UpdateUser, p: Principal | None) -> c.User:
        return await h.update_user(cmd, uow(), who(p))

    @rpc.endpoint(
        s.USERS_SET_EMERGENCY_LOCATION,
        c.SetEmergencyLocation,
        c.User,
        summary="Set the emergency response location.",
    )
    async def set_erl(cmd: c.SetEmergencyLocation, p: Principal | None) -> c.User:
        return await h.set_emergency_location(cmd, uow(), who(p))

    @rpc.endpoint(
        s.USERS_ASSIGN_CREDENTIALS,
        c.AssignUserCredentials,
        c.User,
        summary="Activate a user by assigning credentials.",
    )
    async def assign_creds(cmd: c.AssignUserCredentials, p: Principal | None) -> c.User:
        return await h.assign_credentials(cmd, uow(), who(p), deps)

    @rpc.endpoint(s.USERS_REMOVE, c.RemoveUser, c.User, summary="Remove a user.")
    async def remove(cmd: c.RemoveUser, p: Principal | None) -> c.User:
        return await h.remove_user(cmd, uow(), who(p))

    @rpc.endpoint(
        s.USERS_RESET_CREDENTIALS,
        c.ResetUserCredentials,
        c.User,
        summary="Reset an activated user's password and/or PIN.",
    )
    async def reset_creds(cmd: c.ResetUserCredentials, p: Principal | None) -> c.User:
        return await h.reset_credentials(cmd, uow(), who(p), deps)

    @rpc.endpoint(s.EXTENSIONS_CREATE, c.CreateExtension, c.Extension, summary="New extension.")
    async def create_ext(cmd: c.CreateExtension, p: Principal | None) -> c.Extension:
        return await h.create_extension(cmd, uow(), who(p))

    @rpc.endpoint(s.EXTENSIONS_LIST, c.ListExtensions, c.ExtensionPage, summary="Extensions.")
    async def list_ext(cmd: c.ListExtensions, p: Principal | None) -> c.ExtensionPage:
        return await h.list_extensions(cmd, uow(), who(p))

    @rpc.endpoint(
        s.EXTENSIONS_ASSIGN,
        c.AssignExtension,
        c.User,
        summary="Create a user on an unassigned extension.",
    )
    async def assign_ext(cmd: c.AssignExtension, p: Principal | None) -> c.User:
        return await h.assign_extension(cmd, uow(), who(p), deps)

    @rpc.endpoint(s.EMAILS_CHECK, c.CheckEmail, c.EmailAvailability, summary="Is an email free?")
    async def check_email(cmd: c.CheckEmail, p: Principal | None) -> c.EmailAvailability:
        return await h.check_email(cmd, uow(), who(p))

    @rpc.endpoint(s.ROLES_LIST, c.ListRoles, c.RoleList, summary="Predefined and custom roles.")
    async def roles_list(cmd: c.ListRoles, p: Principal | None) -> c.RoleList:
        return await h.list_roles(cmd, uow(), who(p))

    @rpc.endpoint(s.ROLES_CREATE, c.CreateRole, c.Role, summary="A custom role.")
    async def roles_create(cmd: c.CreateRole, p: Principal | None) -> c.Role:
        return await h.create_role(cmd, uow(), who(p))

    @rpc.endpoint(
        s.INTEGRATIONS_CREATE,
        c.CreateIntegration,
        c.Integration,
        summary="A token for another system's directory requests (shown once).",
    )
    async def integrations_create(cmd: c.CreateIntegration, p: Principal | None) -> c.Integration:
        return await itg.create_integration(cmd, uow(), who(p))

    @rpc.endpoint(
        s.INTEGRATIONS_LIST,
        c.ListIntegrations,
        c.IntegrationPage,
        summary="The account's integrations (no tokens).",
    )
    async def integrations_list(cmd: c.ListIntegrations, p: Principal | None) -> c.IntegrationPage:
        return await itg.list_integrations(cmd, uow(), who(p))

    @rpc.endpoint(
        s.INTEGRATIONS_REVOKE,
        c.RevokeIntegration,
        c.Integration,
        summary="Revoke an integration: its token is refused from then on.",
    )
    async def integrations_revoke(cmd: c.RevokeIntegration, p: Principal | None) -> c.Integration:
        return await itg.revoke_integration(cmd, uow(), who(p))

    # --- consumers ----------------------------------------------------------------
    async def on_account_event(d: Delivery, u: UnitOfWork) -> None:
        data = _data(d)
        iu = cast(Uow, u)
        try:
            if d.subject == s.SITE_CREATED:
                await h.project_site(data, iu)
            elif d.subject == s.COST_CENTER_CREATED:
                await h.project_cost_center(data, iu)
            else:
                await h.project_account(data, iu)
        except (ValueError, KeyError) as exc:
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
            filter_subjects=[s.SITE_CREATED, s.COST_CENTER_CREATED],
            handler=on_account_event,
        )
    )

    async def on_invite_event(d: Delivery, u: UnitOfWork) -> None:
        data = _data(d)
        try:
            await h.project_invite(data, str(d.data.get("time") or ""), cast(Uow, u))
        except KeyError as exc:
            raise Poison(f"missing {exc}") from exc

    svc.subscribe(
        Subscription(
            name="identity-invites",
            stream=s.STREAM_INVITES,
            filter_subjects=[INVITE_EVENTS],
            handler=on_invite_event,
        )
    )

    async def on_user_requested(d: Delivery, u: UnitOfWork) -> None:
        data = d.data.get("data") if isinstance(d.data.get("data"), dict) else d.data
        # eventual consistency: the account may be created a moment before identity
        # hears of it; a young request waits for it (retried), an older one fails
        age = (datetime.now(UTC) - d.published_at).total_seconds() if d.published_at else None
        young = age is not None and age < config.directory_unknown_account_wait_seconds
        try:
            await itg.provision_requested(
                cast(dict[str, Any], data),
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

    async def bootstrap() -> None:
        if config.operator_email and config.operator_password:
            await h.bootstrap_operator(
                uow(), deps.hasher, config.operator_email, config.operator_password
            )

    svc.on_started.append(bootstrap)
    directory = AccountDirectory(nc, config.token_private_key, config.internal_key)
    for ep in rpc.endpoints.values():
        if "account_id" in ep.request.model_fields:
            ep.handler = _learning_accounts(ep.handler, directory, uow)


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
