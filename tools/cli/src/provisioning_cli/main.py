"""``provisioning``: the operator command line. Every command is one or more requests
on the public NATS subjects (CONTRACT.md); docs/cli.md lists them all."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from shared.errors import AppError

from provisioning_cli.client import (
    EXIT_BY_CODE,
    EXIT_CONNECTION,
    EXIT_FAILURE,
    EXIT_PARTIAL,
    EXIT_USAGE,
    Connected,
    ConnectionFailed,
    connect,
    describe,
    exit_code,
)
from provisioning_cli.config import CachedSession, Connection, TokenStore, load_env
from provisioning_cli.csvmap import SETUP_OPTIONS, CsvError, read_rows, write_results
from provisioning_cli.importer import UserImport
from provisioning_cli.output import emit, emit_json, err, message
from shared import subjects as s

T = TypeVar("T")

AUTH_LOGOUT = "identity.v1.auth.logout"  # CONTRACT.md "Lifecycle additions"
HEALTH = {
    "account": s.ACCOUNT_HEALTH,
    "identity": s.IDENTITY_HEALTH,
    "invite-scheduler": s.INVITES_HEALTH,
    "engage-import": s.ENGAGE_HEALTH,
}
DEAD_LETTERS = {
    "account": (s.ACCOUNT_DEAD_LETTERS_LIST, s.ACCOUNT_DEAD_LETTERS_REPLAY),
    "identity": (s.IDENTITY_DEAD_LETTERS_LIST, s.IDENTITY_DEAD_LETTERS_REPLAY),
    "invite-scheduler": (s.INVITES_DEAD_LETTERS_LIST, s.INVITES_DEAD_LETTERS_REPLAY),
    "engage-import": (s.ENGAGE_DEAD_LETTERS_LIST, s.ENGAGE_DEAD_LETTERS_REPLAY),
}


class NotSignedIn(Exception):
    pass


class Denied(Exception):
    """The broker refused a subscription or publication to this connection's user."""


class UsageProblem(Exception):
    pass


@dataclass
class State:
    env_file: Path | None
    as_json: bool

    def env(self) -> dict[str, str]:
        return load_env(self.env_file)

    def connection(self) -> Connection:
        return Connection.from_env(self.env())


def _state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


async def _login(c: Connected, url: str, email: str, password: str, account: str | None) -> Any:
    payload: dict[str, Any] = {"email": email, "password": password}
    if account:
        payload["account_id"] = account
    reply = await c.call(s.AUTH_LOGIN, payload)
    session = CachedSession(
        token=reply["token"],
        expires_at=reply["expires_at"],
        email=email,
        account_id=reply.get("account_id"),
        operator=bool(reply.get("operator")),
    )
    TokenStore().put(url, session)
    return reply


async def _session_token(c: Connected, st: State) -> str:
    env = st.env()
    conn = Connection.from_env(env)
    cached = TokenStore().get(conn.url)
    if cached is None:
        raise NotSignedIn(f"Not signed in to {conn.url}: run `provisioning login`.")
    if cached.expired():
        op_email, op_password = env.get("OPERATOR_EMAIL"), env.get("OPERATOR_PASSWORD")
        if cached.operator and op_email == cached.email and op_password:
            # refreshed before it runs out: the operator's credentials are at hand
            reply = await _login(c, conn.url, op_email, op_password, None)
            return str(reply["token"])
        raise NotSignedIn(
            f"The session of {cached.email} expired at {cached.expires_at}: "
            "run `provisioning login` again."
        )
    return cached.token


def run(
    ctx: typer.Context,
    action: Callable[[Connected], Awaitable[T]],
    *,
    auth: bool = True,
    conn: Connection | None = None,
) -> T:
    """Connect (as the client, or as ``conn``), attach the cached session, run
    ``action``; every failure becomes a clear message on stderr and a distinct exit
    status."""
    st = _state(ctx)

    async def main() -> T:
        async with connect(conn or st.connection()) as c:
            if auth:
                c.token = await _session_token(c, st)
            return await action(c)

    try:
        return asyncio.run(main())
    except ConnectionFailed as exc:
        message(
            f"{exc}\nCheck NATS_URL and the credentials (NATS_USER/NATS_PASSWORD or "
            "NATS_CREDS) in the environment or .devstack/env."
        )
        raise typer.Exit(EXIT_CONNECTION) from exc
    except Denied as exc:
        message(str(exc))
        raise typer.Exit(EXIT_CONNECTION) from exc
    except NotSignedIn as exc:
        message(str(exc))
        raise typer.Exit(EXIT_BY_CODE["unauthenticated"]) from exc
    except UsageProblem as exc:
        message(str(exc))
        raise typer.Exit(EXIT_USAGE) from exc
    except AppError as exc:
        if st.as_json:
            emit_json(exc.to_body())
        message(describe(exc))
        raise typer.Exit(exit_code(exc)) from exc


def show(ctx: typer.Context, data: Any, columns: list[str] | None = None) -> None:
    emit(data, _state(ctx).as_json, columns)


def _account(ctx: typer.Context, account: str | None) -> str:
    """``--account``, else the signed-in session's own account."""
    if account:
        return account
    st = _state(ctx)
    cached = TokenStore().get(st.connection().url)
    if cached is not None and cached.account_id:
        return cached.account_id
    message("Give --account (an operator session names no account of its own).")
    raise typer.Exit(EXIT_USAGE)


def _json_arg(name: str, text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}", param_hint=name) from exc
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint=name)
    return value


def _assignments(pairs: list[str] | None) -> dict[str, Any]:
    """``--set key=value`` (value parsed as JSON when it is JSON; dotted keys nest)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not key=value", param_hint="--set")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


async def _pages(
    c: Connected, subject: str, payload: dict[str, Any], everything: bool
) -> dict[str, Any]:
    page = await c.call(subject, payload)
    if not everything:
        return page
    items = list(page.get("items", []))
    while page.get("next_cursor"):
        page = await c.call(subject, payload | {"cursor": page["next_cursor"]})
        items.extend(page.get("items", []))
    return {"items": items, "next_cursor": None}


def _paging(limit: int, cursor: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"limit": limit}
    if cursor:
        out["cursor"] = cursor
    return out


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


# --- options used by many commands -------------------------------------------------
AccountOpt = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Account id (default: the signed-in account)."),
]
LimitOpt = Annotated[int, typer.Option(help="Page size (1-500).")]
CursorOpt = Annotated[str | None, typer.Option(help="Continue from a previous page.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Fetch every page.")]

app = typer.Typer(
    no_args_is_help=True,
    help="Operate the provisioning system over NATS (public subjects only).",
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="NAME=value file with NATS_URL, NATS_USER, ... (default: .devstack/env "
            "when present). The environment wins over the file.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")] = False,
) -> None:
    ctx.obj = State(env_file, as_json)


# --- session -------------------------------------------------------------------------
@app.command()
def login(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(help="Sign-in email (prompted if absent).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (prompted, hidden, if absent).")
    ] = None,
    operator: Annotated[
        bool, typer.Option("--operator", help="Use OPERATOR_EMAIL/OPERATOR_PASSWORD.")
    ] = False,
    account: Annotated[
        str | None, typer.Option(help="Account to sign in to, when the email has several.")
    ] = None,
) -> None:
    """Sign in; the session token is cached (user config dir, mode 0600) per NATS URL."""
    st = _state(ctx)
    env = st.env()
    if operator:
        email = email or env.get("OPERATOR_EMAIL")
        password = password or env.get("OPERATOR_PASSWORD")
        if not email or not password:
            message(
                "--operator needs OPERATOR_EMAIL and OPERATOR_PASSWORD (environment or env file)."
            )
            raise typer.Exit(EXIT_USAGE)
    email = email or typer.prompt("Email")
    password = password or typer.prompt("Password", hide_input=True)
    url = Connection.from_env(env).url
    reply = run(ctx, lambda c: _login(c, url, str(email), str(password), account), auth=False)
    summary = {
        "email": email,
        "account_id": reply.get("account_id"),
        "operator": bool(reply.get("operator")),
        "expires_at": reply.get("expires_at"),
        "must_change_password": reply.get("must_change_password", False),
        "nats_url": url,
    }
    if st.as_json:
        emit_json(summary)
    else:
        who = "operator" if summary["operator"] else f"account {summary['account_id']}"
        message(f"Signed in as {email} ({who}) on {url} until {summary['expires_at']}.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the session (identity.v1.auth.logout, where the service has it) and forget
    the cached token for this NATS URL."""
    st = _state(ctx)
    conn = st.connection()
    cached = TokenStore().get(conn.url)
    if cached is None:
        message(f"No session cached for {conn.url}.")
        return
    ended = False
    if not cached.expired():

        async def revoke() -> bool:
            async with connect(conn) as c:
                c.token = cached.token
                try:
                    await c.call(AUTH_LOGOUT, timeout=3.0)
                except AppError as exc:
                    # no responder (older service) or the session is already dead
                    if exc.code not in ("unavailable", "unauthenticated"):
                        raise
                    return False
            return True

        try:
            ended = asyncio.run(revoke())
        except (ConnectionFailed, AppError) as exc:
            message(f"Could not end the session on the server ({exc}); forgetting it here.")
    TokenStore().remove(conn.url)
    message("Signed out." if ended else "Signed out (the cached token was forgotten).")


@app.command()
def token(ctx: typer.Context) -> None:
    """Print the cached session token (for raw requests: Authorization: Bearer ...)."""
    st = _state(ctx)
    cached = TokenStore().get(st.connection().url)
    if cached is None or cached.expired():
        message("No valid session: run `provisioning login`.")
        raise typer.Exit(EXIT_BY_CODE["unauthenticated"])
    typer.echo(cached.token)


async def _instances(c: Connected, name: str, wait: float = 0.5) -> list[dict[str, Any]]:
    """Every running instance of ``name``: the answers to NATS service discovery's
    ``$SRV.INFO.<name>`` gathered for ``wait`` seconds (shared.discovery)."""
    inbox = c.nc.new_inbox()
    got: list[dict[str, Any]] = []

    async def collect(msg: Any) -> None:
        with contextlib.suppress(ValueError):
            got.append(json.loads(msg.data))

    sub = await c.nc.subscribe(inbox, cb=collect)
    try:
        await c.nc.publish(f"$SRV.INFO.{name}", b"", reply=inbox)
        await asyncio.sleep(wait)
    finally:
        await sub.unsubscribe()
    return got


@app.command()
def status(ctx: typer.Context) -> None:
    """Every service's health (name, version, status, database, broker) and how many
    instances of it answer NATS service discovery, with their metrics addresses."""

    async def action(c: Connected) -> list[dict[str, Any]]:
        async def one(name: str, subject: str) -> dict[str, Any]:
            try:
                h = await c.call(subject, timeout=3.0)
            except AppError as exc:
                return {"service": name, "status": f"unreachable ({exc.code})"}
            try:
                found = await _instances(c, name)
            except Exception:  # discovery is informative only
                found = []
            metrics = [str(i.get("metadata", {}).get("metrics", "")) for i in found]
            return {
                "service": h.get("service", name),
                "version": h.get("version"),
                "status": h.get("status"),
                "database": h.get("database"),
                "broker": h.get("broker"),
                "instances": len(found),
                "metrics": " ".join(m for m in metrics if m),
            }

        return list(await asyncio.gather(*(one(n, sub) for n, sub in HEALTH.items())))

    rows = run(ctx, action, auth=False)
    show(ctx, rows, ["service", "version", "status", "database", "broker", "instances", "metrics"])
    if any(r.get("status") != "ok" for r in rows):
        raise typer.Exit(EXIT_BY_CODE["unavailable"])


# --- accounts ------------------------------------------------------------------------
accounts = typer.Typer(no_args_is_help=True, help="Phone-system accounts.")
app.add_typer(accounts, name="accounts")
ACCOUNT_COLS = ["id", "name", "country", "plan", "status", "multi_site", "extension_length"]


@accounts.command("create")
def accounts_create(
    ctx: typer.Context,
    name: str,
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2, e.g. US.")],
    plan: Annotated[str, typer.Option(help="core, advanced or ultra.")],
    multi_site: Annotated[bool, typer.Option("--multi-site")] = False,
    extension_length: Annotated[int | None, typer.Option()] = None,
    settings: Annotated[str | None, typer.Option(help="Settings as a JSON object.")] = None,
) -> None:
    """(op) Create an account."""
    payload = _drop_none(
        {
            "name": name,
            "country": country,
            "plan": plan,
            "multi_site": multi_site,
            "extension_length": extension_length,
            "settings": _json_arg("--settings", settings) or None,
        }
    )
    show(ctx, run(ctx, lambda c: c.call(s.ACCOUNTS_CREATE, payload)))


@accounts.command("get")
def accounts_get(ctx: typer.Context, account_id: str) -> None:
    """Show one account."""
    show(ctx, run(ctx, lambda c: c.call(s.ACCOUNTS_GET, {"account_id": account_id})))


@accounts.command("list")
def accounts_list(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Option()] = None,
    status_: Annotated[str | None, typer.Option("--status")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """(op) List accounts."""
    payload = _drop_none({"query": query, "status": status_}) | _paging(limit, cursor)
    show(ctx, run(ctx, lambda c: _pages(c, s.ACCOUNTS_LIST, payload, everything)), ACCOUNT_COLS)


@accounts.command("set-status")
def accounts_set_status(
    ctx: typer.Context,
    account_id: str,
    new_status: Annotated[str, typer.Argument(help="Active, Suspended or Closed.")],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """(op) Suspend, close or reactivate an account."""
    payload = _drop_none({"account_id": account_id, "status": new_status, "reason": reason})
    show(ctx, run(ctx, lambda c: c.call(s.ACCOUNTS_SET_STATUS, payload)))


@accounts.command("update-settings")
def accounts_update_settings(
    ctx: typer.Context,
    account_id: str,
    settings: Annotated[str | None, typer.Option(help="Settings as a JSON object.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="key=value (repeatable; JSON values).")
    ] = None,
) -> None:
    """Change some of an account's settings."""
    changes = _json_arg("--settings", settings) | _assignments(set_)
    if not changes:
        raise typer.BadParameter("give --settings or --set", param_hint="--set")
    payload = {"account_id": account_id, "settings": changes}
    show(ctx, run(ctx, lambda c: c.call(s.ACCOUNTS_UPDATE_SETTINGS, payload)))


# --- inventory -----------------------------------------------------------------------
inventory = typer.Typer(no_args_is_help=True, help="Licenses, numbers and devices.")
app.add_typer(inventory, name="inventory")


@inventory.command("get")
def inventory_get(ctx: typer.Context, account: AccountOpt = None) -> None:
    """Licenses per type, numbers and devices, with free counts."""
    acc = _account(ctx, account)
    show(ctx, run(ctx, lambda c: c.call(s.INVENTORY_GET, {"account_id": acc})))


@inventory.command("buy-licenses")
def inventory_buy_licenses(
    ctx: typer.Context,
    user_type: Annotated[str, typer.Argument(help="standard, video_pro_plus, mobile, free.")],
    quantity: Annotated[int, typer.Argument()],
    account: AccountOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Acknowledge the charges.")] = False,
) -> None:
    """Buy licenses (charges the account: needs --yes)."""
    acc = _account(ctx, account)
    payload = {
        "account_id": acc,
        "items": [{"kind": "license", "user_type": user_type, "quantity": quantity}],
        "acknowledge_charges": yes,
    }
    show(ctx, run(ctx, lambda c: c.call(s.INVENTORY_PURCHASE, payload)))


# --- sites ---------------------------------------------------------------------------
sites = typer.Typer(no_args_is_help=True, help="Sites of a multi-site account.")
app.add_typer(sites, name="sites")


@sites.command("create")
def sites_create(
    ctx: typer.Context,
    name: str,
    account: AccountOpt = None,
    code: Annotated[str | None, typer.Option()] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
) -> None:
    """Create a site."""
    acc = _account(ctx, account)
    payload = _drop_none({"account_id": acc, "name": name, "code": code, "time_zone": time_zone})
    show(ctx, run(ctx, lambda c: c.call(s.SITES_CREATE, payload)))


@sites.command("list")
def sites_list(
    ctx: typer.Context,
    account: AccountOpt = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """List sites."""
    payload = {"account_id": _account(ctx, account)} | _paging(limit, cursor)
    show(
        ctx,
        run(ctx, lambda c: _pages(c, s.SITES_LIST, payload, everything)),
        ["id", "name", "code", "time_zone"],
    )


# --- portals -------------------------------------------------------------------------
portals = typer.Typer(no_args_is_help=True, help="Partner portals over several accounts.")
app.add_typer(portals, name="portals")


@portals.command("create")
def portals_create(ctx: typer.Context, name: str) -> None:
    """Create a portal owned by the signed-in user."""
    show(ctx, run(ctx, lambda c: c.call(s.PORTALS_CREATE, {"name": name})))


@portals.command("link-code")
def portals_link_code(ctx: typer.Context, account: AccountOpt = None) -> None:
    """Issue a one-time code that proves admin rights on the account."""
    acc = _account(ctx, account)
    show(ctx, run(ctx, lambda c: c.call(s.PORTALS_LINK_CODE, {"account_id": acc})))


@portals.command("link")
def portals_link(
    ctx: typer.Context,
    portal_id: str,
    code: Annotated[str, typer.Option("--code", help="The account's link code.")],
    account: AccountOpt = None,
) -> None:
    """Link an account to a portal."""
    payload = {"portal_id": portal_id, "account_id": _account(ctx, account), "link_code": code}
    show(ctx, run(ctx, lambda c: c.call(s.PORTALS_LINK, payload)))


@portals.command("unlink")
def portals_unlink(ctx: typer.Context, portal_id: str, account: AccountOpt = None) -> None:
    """Remove an account from a portal."""
    payload = {"portal_id": portal_id, "account_id": _account(ctx, account)}
    show(ctx, run(ctx, lambda c: c.call(s.PORTALS_UNLINK, payload)))


@portals.command("overview")
def portals_overview(ctx: typer.Context, portal_id: str) -> None:
    """The portal's accounts and their service status."""
    reply = run(ctx, lambda c: c.call(s.PORTALS_OVERVIEW, {"portal_id": portal_id}))
    if _state(ctx).as_json:
        emit_json(reply)
    else:
        emit(
            reply.get("accounts", []),
            False,
            ["account_id", "name", "country", "status", "service_status"],
            title=f"{reply.get('name')} ({reply.get('portal_id')})",
        )


@portals.command("switch")
def portals_switch(ctx: typer.Context, portal_id: str, account: AccountOpt = None) -> None:
    """Switch to a linked account: the new session replaces the cached one."""
    st = _state(ctx)
    url = st.connection().url
    payload = {"portal_id": portal_id, "account_id": _account(ctx, account)}
    previous = TokenStore().get(url)
    reply = run(ctx, lambda c: c.call(s.PORTALS_SWITCH, payload))
    TokenStore().put(
        url,
        CachedSession(
            token=reply["token"],
            expires_at=reply["expires_at"],
            email=previous.email if previous else "",
            account_id=reply.get("account_id"),
        ),
    )
    summary = {"account_id": reply.get("account_id"), "expires_at": reply.get("expires_at")}
    if st.as_json:
        emit_json(summary)
    else:
        message(f"Now acting on account {summary['account_id']} until {summary['expires_at']}.")


# --- users ---------------------------------------------------------------------------
users = typer.Typer(no_args_is_help=True, help="Users of an account.")
app.add_typer(users, name="users")
USER_COLS = ["id", "email", "first_name", "last_name", "user_type", "extension_number", "status"]


@users.command("add")
def users_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Option()],
    first_name: Annotated[str, typer.Option()],
    last_name: Annotated[str, typer.Option()],
    user_type: Annotated[str, typer.Option()] = "standard",
    setup: Annotated[str, typer.Option(help=", ".join(SETUP_OPTIONS))] = "send_invite",
    extra: Annotated[
        str | None, typer.Option("--entry", help="More entry fields as a JSON object.")
    ] = None,
    account: AccountOpt = None,
    acknowledge_charges: Annotated[bool, typer.Option("--acknowledge-charges")] = False,
) -> None:
    """Add one user (for many, use `users import`)."""
    entry = {
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "user_type": user_type,
        "setup": {"option": setup},
    } | _json_arg("--entry", extra)
    payload: dict[str, Any] = {"account_id": _account(ctx, account), "users": [entry]}
    if acknowledge_charges:
        payload["acknowledge_charges"] = True
    reply = run(ctx, lambda c: c.call(s.USERS_ADD, payload, timeout=30.0))
    show(ctx, reply["users"][0] if not _state(ctx).as_json else reply)


@users.command("get")
def users_get(ctx: typer.Context, user_id: str, account: AccountOpt = None) -> None:
    """Show one user."""
    payload = {"account_id": _account(ctx, account), "user_id": user_id}
    show(ctx, run(ctx, lambda c: c.call(s.USERS_GET, payload)))


@users.command("list")
def users_list(
    ctx: typer.Context,
    account: AccountOpt = None,
    query: Annotated[str | None, typer.Option(help="Name, email or extension.")] = None,
    status_: Annotated[str | None, typer.Option("--status")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """List users."""
    payload = (
        {"account_id": _account(ctx, account)}
        | _drop_none({"query": query, "status": status_})
        | _paging(limit, cursor)
    )
    show(ctx, run(ctx, lambda c: _pages(c, s.USERS_LIST, payload, everything)), USER_COLS)


@users.command("update")
def users_update(
    ctx: typer.Context,
    user_id: str,
    account: AccountOpt = None,
    fields: Annotated[str | None, typer.Option(help="Changed fields as a JSON object.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="field=value (repeatable).")
    ] = None,
) -> None:
    """Change some fields of a user (status Disabled/Enabled disables/enables)."""
    changes = _json_arg("--fields", fields) | _assignments(set_)
    if not changes:
        raise typer.BadParameter("give --fields or --set", param_hint="--set")
    payload = {"account_id": _account(ctx, account), "user_id": user_id, "fields": changes}
    show(ctx, run(ctx, lambda c: c.call(s.USERS_UPDATE, payload, timeout=30.0)))


@users.command("import")
def users_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file.")],
    account: AccountOpt = None,
    results: Annotated[
        Path | None,
        typer.Option(help="Per-row result CSV (default: FILE.results.csv)."),
    ] = None,
    setup: Annotated[
        str, typer.Option(help="Setup option of rows without a setup column.")
    ] = "send_invite",
    acknowledge_charges: Annotated[bool, typer.Option("--acknowledge-charges")] = False,
) -> None:
    """Add the users of a CSV file, 25 per request; safe to run again."""
    st = _state(ctx)
    if setup not in SETUP_OPTIONS:
        raise typer.BadParameter(f"one of {', '.join(SETUP_OPTIONS)}", param_hint="--setup")
    try:
        with file.open(newline="", encoding="utf-8-sig") as f:
            rows = read_rows(f, setup)
    except (CsvError, UnicodeDecodeError) as exc:
        message(f"{file}: {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    acc = _account(ctx, account)
    out_path = results or file.with_name(file.stem + ".results.csv")

    async def action(c: Connected) -> tuple[list[dict[str, Any]], AppError | None]:
        with Progress(
            TextColumn("users import"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err(),
            disable=st.as_json,
        ) as bar:
            task = bar.add_task("rows", total=len(rows))
            job = UserImport(
                c,
                acc,
                acknowledge_charges=acknowledge_charges,
                on_done=lambda n: bar.advance(task, n),
            )
            return [r.as_dict() for r in await job.run(rows)], job.aborted

    done, aborted = run(ctx, action)
    with out_path.open("w", newline="", encoding="utf-8") as f:
        write_results(f, done)
    counts = {k: sum(1 for r in done if r["status"] == k) for k in ("added", "exists", "failed")}
    summary = {"rows": len(done), **counts, "results_file": str(out_path)}
    if st.as_json:
        emit_json(summary | {"failures": [r for r in done if r["status"] == "failed"]})
    else:
        message(
            f"{summary['rows']} rows: {counts['added']} added, {counts['exists']} already there, "
            f"{counts['failed']} failed. Per-row results: {out_path}"
        )
        for r in done:
            if r["status"] == "failed":
                message(f"  row {r['row']} {r['email']}: {r['error']}")
    if aborted is not None:
        message("Stopped sending: " + describe(aborted))
        raise typer.Exit(exit_code(aborted))
    if counts["failed"]:
        raise typer.Exit(EXIT_PARTIAL)


# --- extensions ----------------------------------------------------------------------
extensions = typer.Typer(no_args_is_help=True, help="Extensions of an account.")
app.add_typer(extensions, name="extensions")


@extensions.command("create")
def extensions_create(
    ctx: typer.Context,
    account: AccountOpt = None,
    number: Annotated[str | None, typer.Option(help="Default: the next free one.")] = None,
) -> None:
    """Create an unassigned extension."""
    payload = _drop_none({"account_id": _account(ctx, account), "number": number})
    show(ctx, run(ctx, lambda c: c.call(s.EXTENSIONS_CREATE, payload)))


@extensions.command("list")
def extensions_list(
    ctx: typer.Context,
    account: AccountOpt = None,
    status_: Annotated[str | None, typer.Option("--status")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """List extensions."""
    payload = (
        {"account_id": _account(ctx, account)}
        | _drop_none({"status": status_})
        | _paging(limit, cursor)
    )
    show(
        ctx,
        run(ctx, lambda c: _pages(c, s.EXTENSIONS_LIST, payload, everything)),
        ["id", "number", "status", "user_id"],
    )


# --- invites -------------------------------------------------------------------------
invites = typer.Typer(no_args_is_help=True, help="Invitation emails.")
app.add_typer(invites, name="invites")
INVITE_COLS = ["id", "email", "status", "send_at", "time_zone", "sent_at", "attempts"]


@invites.command("send")
def invites_send(ctx: typer.Context, user_id: str, account: AccountOpt = None) -> None:
    """Send a user's invitation now."""
    payload = {"account_id": _account(ctx, account), "user_id": user_id}
    show(ctx, run(ctx, lambda c: c.call(s.INVITES_SEND, payload)))


@invites.command("schedule")
def invites_schedule(
    ctx: typer.Context,
    user_id: str,
    at: Annotated[str, typer.Option("--at", help="Local time, YYYY-MM-DDTHH:MM.")],
    time_zone: Annotated[str, typer.Option(help="IANA time zone of --at.")],
    account: AccountOpt = None,
) -> None:
    """Schedule a user's invitation."""
    payload = {
        "account_id": _account(ctx, account),
        "user_id": user_id,
        "send_at": at,
        "time_zone": time_zone,
    }
    show(ctx, run(ctx, lambda c: c.call(s.INVITES_SCHEDULE, payload)))


@invites.command("list")
def invites_list(
    ctx: typer.Context,
    account: AccountOpt = None,
    status_: Annotated[str | None, typer.Option("--status")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's.")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """List invitations."""
    payload = (
        {"account_id": _account(ctx, account)}
        | _drop_none({"status": status_, "user_id": user})
        | _paging(limit, cursor)
    )
    show(ctx, run(ctx, lambda c: _pages(c, s.INVITES_LIST, payload, everything)), INVITE_COLS)


def _invite_command(name: str, subject: str, doc: str) -> None:
    def command(ctx: typer.Context, invite_id: str, account: AccountOpt = None) -> None:
        payload = {"account_id": _account(ctx, account), "invite_id": invite_id}
        show(ctx, run(ctx, lambda c: c.call(subject, payload)))

    command.__doc__ = doc
    invites.command(name)(command)


_invite_command("get", s.INVITES_GET, "Show one invitation.")
_invite_command("cancel", s.INVITES_CANCEL, "Cancel a scheduled or sent invitation.")
_invite_command("resend", s.INVITES_RESEND, "Send a new link (the old one stops working).")


# --- engage --------------------------------------------------------------------------
engage = typer.Typer(no_args_is_help=True, help="The contact-centre (Engage) side.")
app.add_typer(engage, name="engage")
links = typer.Typer(no_args_is_help=True, help="Engage accounts linked to phone accounts.")
engage.add_typer(links, name="links")
agents = typer.Typer(no_args_is_help=True, help="Engage agents.")
engage.add_typer(agents, name="agents")
engage_roles = typer.Typer(no_args_is_help=True, help="Engage roles.")
engage.add_typer(engage_roles, name="roles")
candidates = typer.Typer(no_args_is_help=True, help="Users that can become agents.")
engage.add_typer(candidates, name="candidates")
EngageOpt = Annotated[str, typer.Option("--engage-account", "-e", help="Engage account id.")]


@links.command("create")
def engage_links_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Name of the new Engage account.")],
    account: AccountOpt = None,
    time_zone: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create an Engage account linked to a phone-system account."""
    ea = _drop_none({"name": name, "default_time_zone": time_zone, "default_language": language})
    payload = {"engage_account": ea, "account_id": _account(ctx, account)}
    show(ctx, run(ctx, lambda c: c.call(s.ENGAGE_LINKS_CREATE, payload)))


@engage_roles.command("list")
def engage_roles_list(ctx: typer.Context, engage_account: EngageOpt) -> None:
    """Roles of an Engage account (agents are imported with one)."""
    payload = {"engage_account_id": engage_account, "limit": 500}
    show(ctx, run(ctx, lambda c: c.call(s.ENGAGE_ROLES_LIST, payload)), ["id", "name"])


@candidates.command("list")
def engage_candidates_list(
    ctx: typer.Context,
    engage_account: EngageOpt,
    query: Annotated[str | None, typer.Option()] = None,
    imported: Annotated[bool | None, typer.Option("--imported/--not-imported")] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """Users of the linked account, and whether each is an agent already."""
    payload = (
        {"engage_account_id": engage_account}
        | _drop_none({"query": query, "imported": imported})
        | _paging(limit, cursor)
    )
    show(
        ctx,
        run(ctx, lambda c: _pages(c, s.ENGAGE_CANDIDATES_LIST, payload, everything)),
        ["user_id", "email", "first_name", "last_name", "imported"],
    )


@engage.command("import")
def engage_import(
    ctx: typer.Context,
    engage_account: EngageOpt,
    role: Annotated[str, typer.Option(help="Role id or name (see `engage roles list`).")],
    user: Annotated[list[str] | None, typer.Option("--user", help="User id (repeatable).")] = None,
    all_candidates: Annotated[
        bool, typer.Option("--all-candidates", help="Every user not imported yet.")
    ] = False,
    team: Annotated[list[str] | None, typer.Option("--team")] = None,
    category: Annotated[list[str] | None, typer.Option("--category")] = None,
) -> None:
    """Import users as agents and follow the job with a progress bar until it is done."""
    st = _state(ctx)
    if not user and not all_candidates:
        raise typer.BadParameter("give --user or --all-candidates", param_hint="--user")

    async def action(c: Connected) -> dict[str, Any]:
        user_ids = list(user or [])
        if all_candidates:
            page = await _pages(
                c,
                s.ENGAGE_CANDIDATES_LIST,
                {"engage_account_id": engage_account, "imported": False, "limit": 500},
                True,
            )
            user_ids += [i["user_id"] for i in page["items"] if i["user_id"] not in user_ids]
        if not user_ids:
            raise UsageProblem("No users to import (every candidate is an agent already).")
        roles = await c.call(
            s.ENGAGE_ROLES_LIST, {"engage_account_id": engage_account, "limit": 500}
        )
        role_id = next(
            (r["id"] for r in roles.get("items", []) if role in (r["id"], r["name"])), role
        )
        job = await c.call(
            s.ENGAGE_AGENTS_IMPORT,
            {
                "engage_account_id": engage_account,
                "user_ids": user_ids,
                "role_id": role_id,
                "team_ids": list(team or []),
                "category_ids": list(category or []),
                "results_limit": 0,
            },
            timeout=30.0,
        )
        with Progress(
            TextColumn("engage import {task.fields[status]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err(),
            disable=st.as_json,
        ) as bar:
            task = bar.add_task("import", total=job["counts"]["total"], status=job["status"])
            while True:
                bar.update(task, completed=job["counts"]["processed"], status=job["status"])
                if job["status"] == "finished":
                    break
                await asyncio.sleep(0.5)
                job = await c.call(
                    s.ENGAGE_IMPORTS_GET,
                    {"engage_account_id": engage_account, "import_id": job["id"]},
                )
        final: dict[str, Any] = await c.call(
            s.ENGAGE_IMPORTS_GET,
            {
                "engage_account_id": engage_account,
                "import_id": job["id"],
                "result_status": "rejected",
                "results_limit": 500,
            },
        )
        return final

    job = run(ctx, action)
    if st.as_json:
        emit_json(job)
    else:
        cnt = job["counts"]
        message(
            f"Import {job['id']}: {cnt['imported']} imported, {cnt['already_imported']} already "
            f"agents, {cnt['rejected']} rejected (of {cnt['total']})."
        )
        if job.get("results"):
            emit(job["results"], False, ["user_id", "status", "reason"])
    if job["counts"]["rejected"]:
        raise typer.Exit(EXIT_PARTIAL)


@agents.command("list")
def engage_agents_list(
    ctx: typer.Context,
    engage_account: EngageOpt,
    query: Annotated[str | None, typer.Option()] = None,
    limit: LimitOpt = 50,
    cursor: CursorOpt = None,
    everything: AllOpt = False,
) -> None:
    """List agents."""
    payload = (
        {"engage_account_id": engage_account}
        | _drop_none({"query": query})
        | _paging(limit, cursor)
    )
    show(
        ctx,
        run(ctx, lambda c: _pages(c, s.ENGAGE_AGENTS_LIST, payload, everything)),
        ["id", "email", "username", "role", "time_zone", "language"],
    )


# --- events --------------------------------------------------------------------------
events = typer.Typer(no_args_is_help=True, help="The services' event streams.")
app.add_typer(events, name="events")


def event_subject(kind: str) -> str:
    """``identity.user.added`` (a CloudEvent type), ``identity.>`` or a full subject."""
    return kind if kind.startswith("events.") else f"events.{kind}"


@events.command("tail")
def events_tail(
    ctx: typer.Context,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Event type, e.g. identity.user.added or identity.> "
            "(repeatable; default: every event).",
        ),
    ] = None,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many events (0: never).")] = 0,
    for_seconds: Annotated[
        float,
        typer.Option("--for", min=0, help="Stop after this many seconds (0: never)."),
    ] = 0,
) -> None:
    """Follow events live (a plain subscription: from now on, no history) as the
    read-only observer NATS user (OBSERVER_NATS_*), else as the client, whose role may
    not subscribe to events: the command then says so."""
    st = _state(ctx)
    subjects = [event_subject(k) for k in kind] if kind else ["events.>"]
    env = st.env()
    observer = Connection.observer_from_env(env)
    user = (observer or Connection.from_env(env)).user or "(credentials file)"

    async def action(c: Connected) -> int:
        done = asyncio.Event()
        seen = 0

        async def on_msg(msg: Any) -> None:
            nonlocal seen
            if done.is_set():
                return
            try:
                ev = json.loads(msg.data)
            except ValueError:
                ev = {"raw": msg.data.decode(errors="replace")}
            if st.as_json:
                print(json.dumps({"subject": msg.subject, "event": ev}, default=str), flush=True)
            else:
                data = json.dumps(ev.get("data", {}), default=str, separators=(",", ":"))
                print(
                    f"{ev.get('time', '')}  {ev.get('type', msg.subject)}  "
                    f"{ev.get('subject') or ''}  {data[:200]}",
                    flush=True,
                )
            seen += 1
            if count and seen >= count:
                done.set()

        for subject in subjects:
            await c.nc.subscribe(subject, cb=on_msg)
        await c.nc.flush(timeout=5)
        # a refusal arrives before the flush's PONG; give its callback a moment
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + for_seconds if for_seconds else None
        announced = False
        while not done.is_set():
            denied = [e for e in c.errors if "permissions violation" in str(e).lower()]
            if denied:
                hint = (
                    "The observer role subscribes to events.> only; check --type."
                    if observer
                    else "The client role may not subscribe to events (docs/security.md): "
                    "set OBSERVER_NATS_USER / OBSERVER_NATS_PASSWORD / "
                    "OBSERVER_NATS_INBOX_PREFIX (`make run` writes them to .devstack/env), "
                    "or read the services' logs."
                )
                raise Denied(
                    f"The broker does not let NATS user {user} subscribe to "
                    f"{', '.join(subjects)} ({denied[0]}). {hint}"
                )
            if not c.nc.is_connected:
                raise ConnectionFailed("The NATS connection closed.")
            if not announced:
                message(f"Following {', '.join(subjects)} as NATS user {user} (Ctrl-C stops) ...")
                announced = True
            wait = 0.5
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), wait)
        return seen

    try:
        seen = run(ctx, action, auth=False, conn=observer)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    if not st.as_json:
        message(f"{seen} event(s).")


# --- dead letters --------------------------------------------------------------------
dead = typer.Typer(no_args_is_help=True, help="(op) Messages a consumer gave up on.")
app.add_typer(dead, name="dead-letters")
ServiceOpt = Annotated[
    str | None,
    typer.Option(
        "--service", help="account, identity, invite-scheduler or engage-import (default: all)."
    ),
]


def _services(service: str | None) -> list[str]:
    if service is None:
        return list(DEAD_LETTERS)
    if service not in DEAD_LETTERS:
        raise typer.BadParameter(f"one of {', '.join(DEAD_LETTERS)}", param_hint="--service")
    return [service]


async def _dead_letters(c: Connected, names: list[str], replayed: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in names:
        page = await _pages(
            c, DEAD_LETTERS[name][0], {"limit": 500, "include_replayed": replayed}, True
        )
        rows += [{"service": name} | item for item in page["items"]]
    return rows


@dead.command("list")
def dead_letters_list(
    ctx: typer.Context,
    service: ServiceOpt = None,
    include_replayed: Annotated[bool, typer.Option("--include-replayed")] = False,
) -> None:
    """Dead letters of every (or one) service."""
    names = _services(service)
    rows = run(ctx, lambda c: _dead_letters(c, names, include_replayed))
    show(
        ctx,
        rows,
        ["service", "id", "consumer", "subject", "deliveries", "error", "created_at"],
    )


@dead.command("replay")
def dead_letters_replay(
    ctx: typer.Context,
    letter_id: Annotated[int | None, typer.Argument(help="Dead letter id.")] = None,
    service: ServiceOpt = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Every one not replayed yet.")] = False,
) -> None:
    """Deliver dead letters to their consumer again (one by id and --service, or --all)."""
    if replay_all == (letter_id is not None):
        raise typer.BadParameter("give a dead letter id (with --service) or --all")
    if letter_id is not None and service is None:
        raise typer.BadParameter("a dead letter id needs --service", param_hint="--service")
    names = _services(service)

    async def action(c: Connected) -> list[dict[str, Any]]:
        targets = (
            await _dead_letters(c, names, False)
            if replay_all
            else [{"service": names[0], "id": letter_id}]
        )
        done = []
        for t in targets:
            name = str(t["service"])
            try:
                reply = await c.call(DEAD_LETTERS[name][1], {"id": t["id"]}, timeout=30.0)
            except AppError as err:
                if not replay_all:
                    raise
                # one that cannot be replayed does not stop the others
                reply = {"id": t["id"], "replayed": False, "error": f"{err.code}: {err.message}"}
            done.append({"service": name} | reply)
        return done

    rows = run(ctx, action)
    show(ctx, rows, ["service", "id", "replayed", "error"])
    if not _state(ctx).as_json:
        message(f"{sum(1 for r in rows if r.get('replayed'))} of {len(rows)} replayed.")
    if any(not r.get("replayed") for r in rows):
        raise typer.Exit(EXIT_FAILURE)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
