"""NATS is the security boundary: nobody connects anonymously, and each role may
publish and subscribe only what shared.natsconf grants it (issue 9, "What was seen"
item 1). Against the harness's own nats-server, run with the generated configuration."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared import natsconf
from shared import subjects as s
from tests.integration.identity.conftest import creds, entry, ready_account
from tests.security.snapshot import unchanged
from tests.support.system import System, email, eventually, uid

EXTERNAL = (
    "TEST_NATS_URL names an external NATS server: the harness cannot configure its "
    "users and permissions, so the permission tests do not apply"
)


@pytest.fixture
def configured(system: System) -> System:
    if not system.nats_configured:
        pytest.skip(EXTERNAL)
    return system


class Conn:
    """A connection as one role that records the server's permission errors."""

    def __init__(self, system: System, role: str) -> None:
        self.system = system
        self.role = role
        self.errors: list[str] = []
        self.nc: Client | None = None

    async def __aenter__(self) -> Conn:
        async def on_error(e: Exception) -> None:
            self.errors.append(str(e))

        self.nc = await self.system.connect(self.role, error_cb=on_error)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.nc is not None
        await self.nc.close()

    async def refused(self, what: str) -> None:
        """The server answered the last operation with a permissions violation on ``what``."""
        assert self.nc is not None
        await self.nc.flush()
        await eventually(
            lambda: any(
                "permissions violation" in e.lower() and f'"{what.lower()}"' in e.lower()
                for e in self.errors
            ),
            timeout=5,
        )

    async def publish_refused(self, subject: str) -> None:
        assert self.nc is not None
        await self.nc.publish(subject, b"{}")
        await self.refused(subject)

    async def subscribe_refused(self, subject: str, queue: str = "") -> list[Msg]:
        """Subscribe (refused by the server); return what arrived anyway (nothing)."""
        assert self.nc is not None
        got: list[Msg] = []

        async def keep(msg: Msg) -> None:
            got.append(msg)

        await self.nc.subscribe(subject, queue=queue, cb=keep)
        await self.refused(subject)
        return got


@pytest.fixture
async def conn(configured: System) -> AsyncIterator[Any]:
    opened: list[Conn] = []

    async def open_as(role: str) -> Conn:
        c = await Conn(configured, role).__aenter__()
        opened.append(c)
        return c

    yield open_as
    for c in opened:
        await c.__aexit__()


async def login(system: System, nc: Client | None = None) -> dict[str, Any]:
    return await system.call(
        s.AUTH_LOGIN,
        {"email": system.operator_email, "password": system.operator_password},
        via=nc,
    )


# --- nobody connects anonymously --------------------------------------------------
async def test_anonymous_connection_is_refused(configured: System) -> None:
    with pytest.raises(nats.errors.Error) as caught:
        await nats.connect(
            configured.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )
    assert "authorization violation" in str(caught.value).lower()


async def test_a_wrong_password_is_refused(configured: System) -> None:
    with pytest.raises(nats.errors.Error) as caught:
        await nats.connect(
            configured.nats_url,
            user="client",
            password="not-the-password",
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )
    assert "authorization violation" in str(caught.value).lower()


# --- client -------------------------------------------------------------------------
async def test_client_cannot_listen_to_a_service_subject_or_other_inboxes(
    configured: System, conn: Any
) -> None:
    spy = await conn("client")
    captured = await spy.subscribe_refused(s.AUTH_LOGIN)
    captured += await spy.subscribe_refused("_INBOX.>")
    captured += await spy.subscribe_refused(">")
    captured += await spy.subscribe_refused("events.>")
    captured += await spy.subscribe_refused(s.AUTH_LOGIN, queue="identity")
    # sign-ins keep working and none of them reaches the spy
    for _ in range(6):
        assert "token" in await login(configured)
    await spy.nc.flush()
    assert captured == []


async def test_client_joining_the_identity_queue_group_answers_no_sign_in(
    configured: System, conn: Any
) -> None:
    # ten different people sign in (one person ten times would meet the per-email throttle)
    acc = await ready_account(configured)
    people = [email("signin") for _ in range(10)]
    await configured.call(
        s.USERS_ADD,
        {
            "account_id": acc["id"],
            "users": [entry(a, setup=creds(temporary_password=False)) for a in people],
        },
        token=await configured.operator_token(),
    )
    thief = await conn("client")
    stolen = await thief.subscribe_refused(s.AUTH_LOGIN, queue="identity")
    replies = await asyncio.gather(
        *(
            configured.call(s.AUTH_LOGIN, {"email": a, "password": creds()["password"]})
            for a in people
        )
    )
    assert all("token" in r for r in replies)
    assert stolen == []


async def test_client_cannot_publish_events_or_call_internal_subjects(
    configured: System, conn: Any
) -> None:
    client = await conn("client")
    async with unchanged(configured):  # nothing in any database
        await client.publish_refused(s.USER_ADDED)
        await client.publish_refused("events.account.account.created")
        await client.publish_refused(s.INGEST_USER_REQUESTED)
        await client.publish_refused("$JS.API.STREAM.DELETE.EVENTS_IDENTITY")
        for subject in natsconf.INTERNAL_SUBJECTS:
            await client.publish_refused(subject)
        # the refused request never reaches the service: no reply, no error reply
        assert client.nc is not None
        with pytest.raises(nats.errors.TimeoutError):
            await client.nc.request(s.AUTH_MINT, b"{}", timeout=0.5)


async def test_client_reaches_every_public_service(configured: System) -> None:
    for subject in (s.ACCOUNT_HEALTH, s.IDENTITY_HEALTH, s.INVITES_HEALTH, s.ENGAGE_HEALTH):
        reply = await configured.call(subject)
        assert reply["status"] == "ok"


async def test_a_sign_in_is_not_visible_to_a_connection_of_another_role(
    configured: System, conn: Any
) -> None:
    ingest = await conn("ingest")
    engage = await conn("engage")
    seen = await ingest.subscribe_refused(s.AUTH_LOGIN)
    seen += await ingest.subscribe_refused("_INBOX_client.>")
    seen += await ingest.subscribe_refused(">")
    seen += await engage.subscribe_refused(s.AUTH_LOGIN)
    seen += await engage.subscribe_refused("_INBOX_client.>")
    seen += await engage.subscribe_refused("_INBOX.>")
    assert "token" in await login(configured)
    assert seen == []


# --- ingest -------------------------------------------------------------------------
async def test_ingest_publishes_only_under_ingest(configured: System, conn: Any) -> None:
    ingest = await conn("ingest")
    for subject in (
        s.USER_ADDED,
        s.USERS_ADD,
        s.AUTH_LOGIN,
        s.INVENTORY_ALLOCATE,
        "$JS.API.STREAM.DELETE.INGEST_DIRECTORY",
        "$KV.REVOCATIONS.x",
    ):
        await ingest.publish_refused(subject)
    await ingest.subscribe_refused(s.INGEST_USER_REQUESTED)
    # what it is for: a JetStream publish, acknowledged in its own inbox
    assert ingest.nc is not None
    ack = await ingest.nc.jetstream().publish(
        s.INGEST_CALL_COMPLETED,
        json.dumps({"call_id": uid("call_"), "nonsense": True}).encode(),
        headers={"Nats-Msg-Id": uid("sec")},
    )
    assert ack.stream == s.STREAM_INGEST_TELEPHONY


# --- services -----------------------------------------------------------------------
async def test_a_service_cannot_publish_another_services_events(
    configured: System, conn: Any
) -> None:
    account = await conn("account")
    await account.publish_refused(s.USER_ADDED)
    engage = await conn("engage")
    await engage.publish_refused(s.INVITE_SENT)
    invites = await conn("invites")
    await invites.publish_refused(s.ACCOUNT_CREATED)


async def test_a_service_calls_only_the_internal_subjects_it_needs(
    configured: System, conn: Any
) -> None:
    engage = await conn("engage")
    for subject in natsconf.INTERNAL_SUBJECTS:
        if subject != s.USERS_FACTS:  # the one it asks (a late user, during an import)
            await engage.publish_refused(subject)
    invites = await conn("invites")
    await invites.publish_refused(s.AUTH_MINT)
    await invites.publish_refused(s.INVENTORY_ALLOCATE)
    await invites.publish_refused(s.USERS_FACTS)
    account = await conn("account")
    await account.publish_refused(s.INVITES_REDEEM)
    await account.publish_refused(s.INVITES_RECOVERY_REDEEM)
    await account.publish_refused(s.INVENTORY_RELEASE)  # its own, called only by identity
    await account.publish_refused(s.USERS_FACTS)
    identity = await conn("identity")
    await identity.publish_refused(s.AUTH_MINT)  # its own, called only by account
    await identity.publish_refused(s.USERS_FACTS)  # its own, called only by engage


async def test_a_service_cannot_serve_or_manage_what_is_not_its_own(
    configured: System, conn: Any
) -> None:
    engage = await conn("engage")
    await engage.subscribe_refused(s.AUTH_LOGIN, queue="identity")
    await engage.subscribe_refused("account.v1.>", queue="account")
    await engage.subscribe_refused(s.USER_ADDED)
    await engage.publish_refused("$JS.API.STREAM.DELETE.EVENTS_IDENTITY")
    await engage.publish_refused("$JS.API.STREAM.DELETE.EVENTS_ENGAGE")
    await engage.publish_refused("$JS.API.STREAM.PURGE.EVENTS_ACCOUNT")
    await engage.publish_refused("$JS.API.CONSUMER.DELETE.EVENTS_ACCOUNT.identity-account-facts")
    await engage.publish_refused("$JS.API.CONSUMER.MSG.NEXT.EVENTS_ACCOUNT.identity-account-facts")
    await engage.publish_refused("$KV.REVOCATIONS.x")


async def test_every_service_watches_revocations_and_writes_only_its_own_keys(
    configured: System, conn: Any
) -> None:
    """The grants session revocation needs (shared.revocations): identity writes user
    and session keys, account writes account and link keys, every service its own
    heartbeats; every service reads and watches; nobody deletes the bucket."""
    b = natsconf.REVOCATIONS_BUCKET
    identity = await conn("identity")
    assert identity.nc is not None
    kv = await identity.nc.jetstream().key_value(b)  # the services made it
    user_key, account_key = f"user.{uid('usr')}", f"account.{uid('acc')}"
    await kv.put(user_key, b"1")
    await identity.publish_refused(f"$KV.{b}.{account_key}")
    account = await conn("account")
    assert account.nc is not None
    akv = await account.nc.jetstream().key_value(b)
    await akv.put(account_key, b"2")
    await account.publish_refused(f"$KV.{b}.{user_key}")
    for role, service in (("invites", "invite-scheduler"), ("engage", "engage-import")):
        reader = await conn(role)
        assert reader.nc is not None
        rkv = await reader.nc.jetstream().key_value(b)
        assert (await rkv.get(account_key)).value == b"2"
        watcher = await rkv.watch(user_key)
        entry = await watcher.updates(timeout=5)
        assert entry is not None and entry.value == b"1"
        await watcher.stop()
        await rkv.put(f"heartbeat.{service}.{uid('i')}", b"0")
        for key in (user_key, account_key, f"heartbeat.identity.{uid('i')}"):
            await reader.publish_refused(f"$KV.{b}.{key}")
        await reader.publish_refused(f"$JS.API.STREAM.DELETE.{natsconf.REVOCATIONS_STREAM}")


# --- observer (operators' `provisioning events tail`) ------------------------------
async def test_observer_follows_events_live(configured: System, conn: Any) -> None:
    observer = await conn("observer")
    assert observer.nc is not None
    got: list[Msg] = []

    async def keep(msg: Msg) -> None:
        got.append(msg)

    await observer.nc.subscribe("events.>", cb=keep)
    await observer.nc.subscribe(s.EVENTS_ACCOUNT_ALL, cb=keep)
    await observer.nc.flush()
    acc = await ready_account(configured)  # account.created (and more) from the service
    await eventually(
        lambda: any(m.subject == s.ACCOUNT_CREATED and acc["id"] in m.data.decode() for m in got),
        timeout=10,
    )
    assert observer.errors == []


async def test_observer_publishes_nothing(configured: System, conn: Any) -> None:
    observer = await conn("observer")
    for subject in (
        s.AUTH_LOGIN,
        s.ACCOUNTS_CREATE,
        s.IDENTITY_HEALTH,
        s.USER_ADDED,
        s.INGEST_USER_REQUESTED,
        "$JS.API.STREAM.INFO.EVENTS_IDENTITY",
        "$JS.API.CONSUMER.CREATE.EVENTS_IDENTITY",
        "$JS.API.STREAM.PURGE.EVENTS_IDENTITY",
        "$KV.REVOCATIONS.x",
        "_INBOX_client.x",
        "_INBOX_observer.x",
        *natsconf.INTERNAL_SUBJECTS,
    ):
        await observer.publish_refused(subject)
    # a request never reaches a service: it times out, no reply
    assert observer.nc is not None
    with pytest.raises(nats.errors.TimeoutError):
        await observer.nc.request(s.IDENTITY_HEALTH, b"{}", timeout=0.5)


async def test_observer_cannot_listen_to_requests_or_other_inboxes(
    configured: System, conn: Any
) -> None:
    spy = await conn("observer")
    seen = await spy.subscribe_refused(s.AUTH_LOGIN)
    seen += await spy.subscribe_refused(s.AUTH_LOGIN, queue="identity")
    seen += await spy.subscribe_refused("identity.v1.>")
    seen += await spy.subscribe_refused("_INBOX_client.>")
    seen += await spy.subscribe_refused("_INBOX.>")
    seen += await spy.subscribe_refused("ingest.>")
    seen += await spy.subscribe_refused(">")
    assert "token" in await login(configured)
    assert seen == []
