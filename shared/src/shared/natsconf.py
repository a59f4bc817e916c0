"""Who may do what on NATS: the per-role permission table and the nats-server
``authorization {}`` block generated from it.

NATS is the security boundary of the system: every connection authenticates as a
user, and the server enforces each user's publish/subscribe permissions. Roles:

- one user per service (``account``, ``identity``, ``invites``, ``engage``): serves
  its own request subjects in its own queue group, replies through
  ``allow_responses``, publishes its own events, manages its own streams and the
  durable consumers it reads, calls only the other services' subjects it needs;
- ``client`` (outside callers): publishes only to the public request subjects and
  receives replies only in its own inbox prefix;
- ``ingest`` (other systems): publishes only to ``ingest.>`` (and gets JetStream's
  PubAck in its own inbox prefix);
- ``observer`` (operators watching events, ``provisioning events tail``): subscribes
  to ``events.>`` (live, core NATS) and its own inbox prefix; publishes nothing;
- ``harness`` (test harness only, never in ``make run`` or compose): everything.

``python -m shared.natsconf`` prints the block for an operator who runs their own
NATS (``NATS_URL``); passwords come from the environment (``NATS_PASSWORD``,
``INGEST_NATS_PASSWORD``, ``ACCOUNT_NATS_PASSWORD`` ...) or are generated, and
``--env-out FILE`` writes the credentials the services and clients need (mode 0600).

To grant a role more, edit :data:`SERVICES` (or :data:`CLIENT` / :data:`INGEST`):
add a subject a service calls to its ``calls``, a durable consumer it reads to its
``consumers``, a stream it owns to its ``streams``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import subjects as s
from shared.discovery import discovery_subjects

JS_API = "$JS.API"

# The KV bucket of session revocations: every service watches it.
REVOCATIONS_BUCKET = "REVOCATIONS"
REVOCATIONS_STREAM = f"KV_{REVOCATIONS_BUCKET}"

# Subjects only other services may call (``internal=True`` in their RpcRouter).
INTERNAL_SUBJECTS: tuple[str, ...] = (
    s.AUTH_MINT,
    s.INVENTORY_ALLOCATE,
    s.INVENTORY_RELEASE,
    s.INVITES_REDEEM,
    s.USERS_FACTS,
    s.INVITES_RECOVERY_REDEEM,
)

# NATS service discovery (shared.discovery): who is running, which version, where
# its metrics are.
DISCOVERY_REQUESTS: tuple[str, ...] = (
    "$SRV.PING",
    "$SRV.PING.>",
    "$SRV.INFO",
    "$SRV.INFO.>",
    "$SRV.STATS",
    "$SRV.STATS.>",
)

# Every public request subject, by service.
PUBLIC_REQUESTS: tuple[str, ...] = ("account.v1.>", "identity.v1.>", "invites.v1.>", "engage.v1.>")


@dataclass(frozen=True)
class ServiceGrant:
    """What one service's NATS user may do."""

    user: str
    """User name, queue group and env prefix (``<USER>_NATS_PASSWORD``)."""
    requests: str
    """The request subjects it serves (in queue group ``user``)."""
    events: str
    """The event subjects it publishes (to its own stream)."""
    streams: tuple[str, ...]
    """Streams it creates and updates."""
    consumers: tuple[tuple[str, str], ...] = ()
    """(stream, durable consumer) pairs it creates and reads."""
    calls: tuple[str, ...] = ()
    """Other services' request subjects it calls."""
    kv_write: tuple[str, ...] = ()
    """KV keys it writes, as ``<bucket>.<key pattern>``."""
    """KV buckets it writes."""
    kv_create: tuple[str, ...] = (REVOCATIONS_BUCKET,)
    """KV buckets it creates when missing (their ``KV_<bucket>`` stream): every service
    may create the revocation bucket, with the same settings, whichever starts first."""
    kv_read: tuple[str, ...] = (REVOCATIONS_BUCKET,)
    """KV buckets it reads and watches."""
    extra_publish: tuple[str, ...] = ()
    extra_subscribe: tuple[str, ...] = ()

    @property
    def env_prefix(self) -> str:
        return f"{self.user.upper()}_"

    @property
    def inbox_prefix(self) -> str:
        return f"_INBOX_{self.user}"


def _revocation_keys(service: str, *keys: str) -> tuple[str, ...]:
    """The revocation keys a service writes: its instances' heartbeats
    (``heartbeat.<service name>.<instance>``, shared.revocations) and ``keys``."""
    return tuple(f"{REVOCATIONS_BUCKET}.{k}" for k in (f"heartbeat.{service}.>", *keys))


SERVICES: dict[str, ServiceGrant] = {
    "account": ServiceGrant(
        user="account",
        requests="account.v1.>",
        events=s.EVENTS_ACCOUNT_ALL,
        streams=(s.STREAM_ACCOUNT, s.STREAM_INGEST_TELEPHONY),
        consumers=(
            (s.STREAM_IDENTITY, "account-user-facts"),
            (s.STREAM_INVITES, "account-invite-facts"),
            (s.STREAM_INGEST_TELEPHONY, "account-call-metering"),
        ),
        calls=(s.AUTH_MINT,),
        extra_subscribe=tuple(discovery_subjects("account")),
        kv_write=_revocation_keys("account", "account.>", "link.>"),
    ),
    "identity": ServiceGrant(
        user="identity",
        requests="identity.v1.>",
        events=s.EVENTS_IDENTITY_ALL,
        streams=(s.STREAM_IDENTITY, s.STREAM_INGEST_DIRECTORY),
        consumers=(
            (s.STREAM_ACCOUNT, "identity-account-facts"),
            (s.STREAM_ACCOUNT, "identity-account-org"),
            (s.STREAM_INVITES, "identity-invites"),
            (s.STREAM_INGEST_DIRECTORY, "identity-directory-requests"),
        ),
        calls=(
            s.INVENTORY_ALLOCATE,
            s.INVENTORY_RELEASE,
            s.ACCOUNTS_GET,
            s.INVITES_REDEEM,
            s.INVITES_RECOVERY_REDEEM,
        ),
        extra_subscribe=tuple(discovery_subjects("identity")),
        kv_write=_revocation_keys("identity", "user.>", "session.>"),
    ),
    "invites": ServiceGrant(
        user="invites",
        requests="invites.v1.>",
        events=s.EVENTS_INVITES_ALL,
        streams=(s.STREAM_INVITES,),
        consumers=(
            (s.STREAM_IDENTITY, "invites-identity-users"),
            (s.STREAM_ACCOUNT, "invites-account-facts"),
        ),
        extra_subscribe=tuple(discovery_subjects("invite-scheduler")),
        kv_write=_revocation_keys("invite-scheduler"),
    ),
    "engage": ServiceGrant(
        user="engage",
        requests="engage.v1.>",
        events=s.EVENTS_ENGAGE_ALL,
        streams=(s.STREAM_ENGAGE,),
        consumers=(
            (s.STREAM_ACCOUNT, "engage-account-facts"),
            (s.STREAM_IDENTITY, "engage-directory"),
        ),
        calls=(s.USERS_FACTS,),
        extra_subscribe=tuple(discovery_subjects("engage-import")),
        kv_write=_revocation_keys("engage-import"),
    ),
}


@dataclass(frozen=True)
class Role:
    """A NATS user's permissions, as nats-server spells them."""

    user: str
    env_prefix: str
    """``<prefix>NATS_USER`` / ``NATS_PASSWORD`` / ``NATS_INBOX_PREFIX`` name its credentials."""
    inbox_prefix: str
    publish_allow: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    subscribe_allow: tuple[str, ...] = ()
    subscribe_deny: tuple[str, ...] = ()
    allow_responses: bool = False
    unrestricted: bool = False
    """No permissions block at all (the test harness only)."""

    def permissions(self) -> dict[str, Any]:
        # an empty allow list is left out (the deny list then does the refusing)
        perms: dict[str, Any] = {"publish": {}, "subscribe": {}}
        if self.publish_allow:
            perms["publish"]["allow"] = list(self.publish_allow)
        if self.subscribe_allow:
            perms["subscribe"]["allow"] = list(self.subscribe_allow)
        if self.publish_deny:
            perms["publish"]["deny"] = list(self.publish_deny)
        if self.subscribe_deny:
            perms["subscribe"]["deny"] = list(self.subscribe_deny)
        if self.allow_responses:
            perms["allow_responses"] = True
        return perms


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def service_role(g: ServiceGrant) -> Role:
    pub: list[str] = [g.events, g.requests.replace(".>", ".health")]
    # its own streams: create, update, read their state; never delete
    for stream in g.streams:
        pub += [f"{JS_API}.STREAM.{op}.{stream}" for op in ("INFO", "CREATE", "UPDATE")]
    # the durable consumers it reads
    for stream, durable in g.consumers:
        pub += [
            f"{JS_API}.STREAM.INFO.{stream}",
            f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}",
            f"{JS_API}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{JS_API}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{JS_API}.CONSUMER.INFO.{stream}.{durable}",
            f"{JS_API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
            # replaying a redacted dead letter reads the original message back
            f"{JS_API}.STREAM.MSG.GET.{stream}",
        ]
    # KV buckets: watch (ordered consumer) and get
    for bucket in g.kv_read:
        kv = f"KV_{bucket}"
        pub += [
            f"{JS_API}.STREAM.INFO.{kv}",
            f"{JS_API}.CONSUMER.CREATE.{kv}",
            f"{JS_API}.CONSUMER.CREATE.{kv}.>",
            f"{JS_API}.CONSUMER.INFO.{kv}.>",
            f"{JS_API}.CONSUMER.DELETE.{kv}.>",
            f"{JS_API}.DIRECT.GET.{kv}",
            f"{JS_API}.DIRECT.GET.{kv}.>",
            f"{JS_API}.STREAM.MSG.GET.{kv}",
            f"$JS.FC.{kv}.>",
        ]
    for bucket in g.kv_create:
        pub += [f"{JS_API}.STREAM.{op}.KV_{bucket}" for op in ("CREATE", "UPDATE")]
    pub += [f"$KV.{key}" for key in g.kv_write]
    pub += list(g.calls) + list(g.extra_publish)
    return Role(
        user=g.user,
        env_prefix=g.env_prefix,
        inbox_prefix=g.inbox_prefix,
        publish_allow=_unique(pub),
        subscribe_allow=_unique(
            [f"{g.requests} {g.user}", f"{g.inbox_prefix}.>", *g.extra_subscribe]
        ),
        allow_responses=True,
    )


CLIENT = Role(
    user="client",
    env_prefix="",
    inbox_prefix="_INBOX_client",
    publish_allow=(*PUBLIC_REQUESTS, *DISCOVERY_REQUESTS),
    publish_deny=INTERNAL_SUBJECTS,
    subscribe_allow=("_INBOX_client.>",),
)

INGEST = Role(
    user="ingest",
    env_prefix="INGEST_",
    inbox_prefix="_INBOX_ingest",
    publish_allow=("ingest.>",),
    subscribe_allow=("_INBOX_ingest.>",),
)

# Read-only event watching for operators: a plain subscription to the event subjects
# (no JetStream API, so no history, no consumer to create or delete) and nothing to
# publish at all (deny ">": an empty allow list alone would not restrict).
OBSERVER = Role(
    user="observer",
    env_prefix="OBSERVER_",
    inbox_prefix="_INBOX_observer",
    publish_allow=(),
    publish_deny=(">",),
    subscribe_allow=("events.>", "_INBOX_observer.>"),
)

HARNESS = Role(
    user="harness",
    env_prefix="HARNESS_",
    inbox_prefix="_INBOX",
    publish_allow=(">",),
    subscribe_allow=(">",),
    unrestricted=True,
)


def roles(*, harness: bool = False) -> list[Role]:
    """Every role, in a stable order (the harness only when asked)."""
    out = [service_role(g) for g in SERVICES.values()] + [CLIENT, INGEST, OBSERVER]
    return [*out, HARNESS] if harness else out


@dataclass
class Credentials:
    """One user's credentials, and the env names a process reads them from."""

    role: Role
    password: str
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return self.role.user

    @property
    def inbox_prefix(self) -> str:
        return self.role.inbox_prefix

    def env(self, prefix: str | None = None) -> dict[str, str]:
        p = self.role.env_prefix if prefix is None else prefix
        return {
            f"{p}NATS_USER": self.user,
            f"{p}NATS_PASSWORD": self.password,
            f"{p}NATS_INBOX_PREFIX": self.inbox_prefix,
        }

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``."""
        return {"user": self.user, "password": self.password, "inbox_prefix": self.inbox_prefix}


def generate(
    passwords: Mapping[str, str] | None = None, *, harness: bool = False
) -> dict[str, Credentials]:
    """Credentials for every role: the given passwords (by user), else fresh ones."""
    given = passwords or {}
    return {
        r.user: Credentials(r, given.get(r.user) or secrets.token_urlsafe(24))
        for r in roles(harness=harness)
    }


def _q(value: str) -> str:
    # a quoted string in nats.conf is literal ($ is not a variable there)
    return json.dumps(value)


def _list(items: tuple[str, ...] | list[str], indent: str) -> str:
    inner = "".join(f"{indent}  {_q(i)}\n" for i in items)
    return f"[\n{inner}{indent}]"


def authorization_block(creds: Mapping[str, Credentials]) -> str:
    """The nats.conf ``authorization {}`` block: one user per role, no anonymous access."""
    lines = ["authorization {", "  users = ["]
    for c in creds.values():
        r = c.role
        lines.append("    {")
        lines.append(f"      user: {_q(r.user)}")
        lines.append(f"      password: {_q(c.password)}")
        if not r.unrestricted:
            ind = "          "
            lines.append("      permissions: {")
            lines.append("        publish: {")
            if r.publish_allow:
                lines.append(f"          allow: {_list(r.publish_allow, ind)}")
            if r.publish_deny:
                lines.append(f"          deny: {_list(r.publish_deny, ind)}")
            lines.append("        }")
            lines.append("        subscribe: {")
            if r.subscribe_allow:
                lines.append(f"          allow: {_list(r.subscribe_allow, ind)}")
            if r.subscribe_deny:
                lines.append(f"          deny: {_list(r.subscribe_deny, ind)}")
            lines.append("        }")
            if r.allow_responses:
                lines.append("        allow_responses: true")
            lines.append("      }")
        lines.append("    }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def env_lines(values: Mapping[str, str]) -> str:
    """``NAME=value`` lines a POSIX shell can source (values single-quoted)."""
    out = []
    for k, v in values.items():
        out.append(f"{k}='" + v.replace("'", "'\"'\"'") + "'\n")
    return "".join(out)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never briefly wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


def credentials_env(creds: Mapping[str, Credentials]) -> dict[str, str]:
    """Every role's credentials under its env names (client: ``NATS_USER`` ...)."""
    out: dict[str, str] = {}
    for c in creds.values():
        if not c.role.unrestricted:
            out |= c.env()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.natsconf",
        description="Print the nats-server authorization block for this system.",
    )
    parser.add_argument(
        "--env-out",
        type=Path,
        help="also write every role's credentials to this file (NAME=value, mode 0600)",
    )
    args = parser.parse_args(argv)
    passwords = {
        r.user: os.environ.get(f"{r.env_prefix}NATS_PASSWORD", "") for r in roles(harness=False)
    }
    creds = generate(passwords)
    if args.env_out:
        write_private(args.env_out, env_lines(credentials_env(creds)))
    sys.stdout.write(authorization_block(creds))


if __name__ == "__main__":
    main()
