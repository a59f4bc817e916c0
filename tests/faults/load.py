"""A mixed load with unique ids, driven like an outside caller over the public
subjects; every operation and its outcome goes to a ledger (in memory and
``ledger.jsonl`` in the run's directory).

An operation is **acknowledged** when the system said yes (a reply that is not an
error, or JetStream's PubAck); **rejected** when it said no (an error reply:
nothing may change); **indeterminate** when no answer came (it may or may not
have happened: never counted as lost, but still checked for duplicates)."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nats.js.client import JetStreamContext
from shared.errors import AppError

from tests.faults.harness import FaultStack

ZONE = "America/New_York"
SETUPS = ("send_invite", "schedule_invite", "assign_credentials", "activate_later")


@dataclass
class Op:
    kind: str  # user | directory | call | engage_import
    key: str  # unique: email, request_id, call_id, import job id
    outcome: str  # acked | rejected | indeterminate
    at: float
    data: dict[str, Any] = field(default_factory=dict)


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.ops: list[Op] = []
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, kind: str, key: str, outcome: str, **data: Any) -> Op:
        op = Op(kind, key, outcome, time.time(), data)
        self.ops.append(op)
        with self.path.open("a") as f:
            f.write(json.dumps(asdict(op), default=str) + "\n")
        return op

    def of(self, kind: str, outcome: str | None = "acked") -> list[Op]:
        return [o for o in self.ops if o.kind == kind and (outcome is None or o.outcome == outcome)]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, AppError) and exc.code not in ("unavailable", "timeout", "internal"):
        return "rejected"
    return "indeterminate"


def local_send_at(due: datetime) -> str:
    return due.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")


def user_entry(email: str, setup: str, due: datetime | None = None, **extra: Any) -> dict[str, Any]:
    opt: dict[str, Any] = {"option": setup}
    if setup == "schedule_invite":
        assert due is not None
        opt |= {"send_at": local_send_at(due), "time_zone": ZONE}
    elif setup == "assign_credentials":
        opt |= {
            "password": "fault suite password 42",
            "pin": "480213",
            "security_question": "Colour?",
            "security_answer": "Blue",
        }
    return {
        "first_name": "Fault",
        "last_name": email.split("@")[0].replace(".", "")[:40],
        "email": email,
        "user_type": extra.pop("user_type", "mobile"),
        "setup": opt,
    } | extra


async def publish_directory_request(
    js: JetStreamContext, request_id: str, account_id: str, user: dict[str, Any], token: str
) -> None:
    """One ``ingest.directory.user.requested`` as another system sends it: with its
    integration's bearer token (CONTRACT.md "Inbound events")."""
    body = {"request_id": request_id, "account_id": account_id, "user": user}
    await js.publish(
        "ingest.directory.user.requested",
        json.dumps(body).encode(),
        headers={"Nats-Msg-Id": request_id, "Authorization": f"Bearer {token}"},
        timeout=5,
    )


async def publish_call(
    js: JetStreamContext, call_id: str, account_id: str, user_id: str, started_at: datetime
) -> None:
    body = {
        "call_id": call_id,
        "account_id": account_id,
        "user_id": user_id,
        "direction": "outbound",
        "started_at": started_at.isoformat(),
    }
    await js.publish(
        "ingest.telephony.call.completed",
        json.dumps(body).encode(),
        headers={"Nats-Msg-Id": unique("msg_")},
        timeout=5,
    )


@dataclass
class Workload:
    fs: FaultStack
    ledger: Ledger
    rng: random.Random
    token: str = ""
    integration_token: str = ""
    account_id: str = ""
    engage_account_id: str = ""
    free_users: list[str] = field(default_factory=list)
    importable: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    # --- set-up (not part of the ledger: retried until it works) --------------------

    async def setup(self, free_users: int = 2) -> None:
        fs = self.fs
        self.token = await fs.operator()
        acc = await fs.call_retrying(
            "account.v1.accounts.create",
            {"name": f"Faults {unique('')}", "country": "US", "plan": "ultra"},
            self.token,
        )
        self.account_id = str(acc["id"])
        deadline = time.monotonic() + 60
        while True:  # engage hears of the account from account's events
            try:
                link = await fs.call(
                    "engage.v1.links.create",
                    {"engage_account": {"name": f"Engage {unique('')}"}, "account_id": acc["id"]},
                    self.token,
                )
                self.engage_account_id = str(link["engage_account_id"])
                break
            except AppError as err:
                if err.code not in ("not_found", "unavailable") or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
        entries = [
            user_entry(f"free.{unique('')}@faults.example.com", "activate_later", user_type="free")
            for _ in range(free_users)
        ]
        r = await fs.call_retrying(
            "identity.v1.users.add", {"account_id": self.account_id, "users": entries}, self.token
        )
        self.free_users = [str(u["id"]) for u in r["users"]]
        integration = await fs.call_retrying(
            "identity.v1.integrations.create",
            {"account_id": self.account_id, "name": "HR sync", "role": "Super Admin"},
            self.token,
        )
        self.integration_token = str(integration["token"])

    # --- operations -----------------------------------------------------------------

    async def add_users(
        self, setups: list[str], due: datetime | None = None, timeout: float = 20
    ) -> None:
        """One ``users.add`` request; every entry is an operation in the ledger."""
        entries = []
        for setup in setups:
            email = f"u.{unique('')}@faults.example.com"
            when = due or (datetime.now(UTC) + timedelta(seconds=self.rng.uniform(4, 12)))
            entries.append(user_entry(email, setup, when if setup == "schedule_invite" else None))
        try:
            r = await self.fs.call(
                "identity.v1.users.add",
                {"account_id": self.account_id, "users": entries},
                self.token,
                timeout=timeout,
            )
        except Exception as exc:
            outcome = outcome_of(exc)
            for e in entries:
                self.ledger.record("user", e["email"], outcome, setup=e["setup"], error=str(exc))
            return
        for e, u in zip(entries, r["users"], strict=True):
            self.ledger.record("user", e["email"], "acked", setup=e["setup"], user_id=u["id"])
            self.importable.append(str(u["id"]))

    async def directory_request(self) -> None:
        request_id = unique("req_")
        email = f"d.{unique('')}@faults.example.com"
        setup = self.rng.choice(("send_invite", "activate_later"))
        try:
            await publish_directory_request(
                self.fs.js,
                request_id,
                self.account_id,
                user_entry(email, setup),
                self.integration_token,
            )
        except Exception as exc:
            self.ledger.record(
                "directory", request_id, "indeterminate", email=email, error=str(exc)
            )
            return
        self.ledger.record("directory", request_id, "acked", email=email, setup=setup)

    async def call_event(self) -> None:
        call_id = unique("call_")
        user_id = self.rng.choice(self.free_users)
        try:
            await publish_call(self.fs.js, call_id, self.account_id, user_id, datetime.now(UTC))
        except Exception as exc:
            self.ledger.record("call", call_id, "indeterminate", user_id=user_id, error=str(exc))
            return
        self.ledger.record("call", call_id, "acked", user_id=user_id)

    async def engage_import(self) -> None:
        """Import users added a moment ago (the engage directory hears of them by event)."""
        user_ids, self.importable = self.importable[:20], self.importable[20:]
        if not user_ids:
            return
        try:
            job = await self.fs.call(
                "engage.v1.agents.import",
                {
                    "engage_account_id": self.engage_account_id,
                    "user_ids": user_ids,
                    "role_id": "agent",
                },
                self.token,
            )
        except Exception as exc:
            self.ledger.record(
                "engage_import", unique("imp?"), outcome_of(exc), user_ids=user_ids, error=str(exc)
            )
            return
        self.ledger.record("engage_import", str(job["id"]), "acked", user_ids=user_ids)

    # --- the mixed load ---------------------------------------------------------------

    async def step(self) -> None:
        setups = [self.rng.choice(SETUPS) for _ in range(self.rng.randint(2, 6))]
        await asyncio.gather(
            self.add_users(setups),
            self.directory_request(),
            self.call_event(),
            self.call_event(),
            self.call_event(),
        )
        if self.rng.random() < 0.3:
            await self.engage_import()

    async def run(self, pause: float = 0.4) -> None:
        """The mixed load until ``stop`` is set (each step's operations in parallel)."""
        while not self.stop.is_set():
            started = time.monotonic()
            await self.step()
            await asyncio.sleep(max(0.05, pause - (time.monotonic() - started)))
        await self.engage_import()

    async def burst(self, n: int, due: datetime) -> None:
        """``n`` scheduled invites all due at ``due`` (25 users a request, 4 at a time)."""
        sem = asyncio.Semaphore(4)

        async def one(k: int) -> None:
            async with sem:
                await self.add_users(["schedule_invite"] * k, due=due, timeout=60)

        sizes = [25] * (n // 25) + ([n % 25] if n % 25 else [])
        await asyncio.gather(*(one(k) for k in sizes))

    async def settle_calls(self) -> None:
        """Top every free user up to 12 acknowledged calls (one overage charge each)."""
        for user_id in self.free_users:
            have = sum(1 for o in self.ledger.of("call") if o.data["user_id"] == user_id)
            for _ in range(max(0, 12 - have)):
                call_id = unique("call_")
                try:
                    await publish_call(
                        self.fs.js, call_id, self.account_id, user_id, datetime.now(UTC)
                    )
                except Exception as exc:
                    self.ledger.record(
                        "call", call_id, "indeterminate", user_id=user_id, error=str(exc)
                    )
                    continue
                self.ledger.record("call", call_id, "acked", user_id=user_id)
