"""After the faults: wait for quiescence, then compare the ledger with what every
service holds (its own database, read directly) and what the SMTP server kept.

One row per effect: acknowledged (what the ledger expects), applied (found exactly
once), lost (expected, not found), duplicated (found more than once: every extra
copy counts)."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from shared.errors import AppError

from tests.faults.harness import FaultStack
from tests.faults.load import Workload

FREE_CALLS = 10
PASSWORD = "orange kettle harbour 93"


@dataclass
class Row:
    fault: str
    effect: str
    acknowledged: int
    applied: int
    lost: int
    duplicated: int
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


@dataclass
class Result:
    fault: str
    rows: list[Row] = field(default_factory=list)
    quiescent: bool = True
    bound: int = 0  # re-sent emails allowed (same link), see docs/reliability.md

    def add(self, effect: str, ack: int, applied: int, lost: int, dup: int, note: str = "") -> None:
        self.rows.append(Row(self.fault, effect, ack, applied, lost, dup, note))

    def failures(self) -> list[str]:
        out = []
        for r in self.rows:
            # a crash may re-send the mails in flight (same link, same Message-ID)
            dup_ok = r.effect == "invites mailed" and r.duplicated <= self.bound
            if r.lost or (r.duplicated and not dup_ok):
                out.append(f"{r.effect}: lost {r.lost}, duplicated {r.duplicated} ({r.note})")
        if not self.quiescent:
            out.append("no quiescence before the deadline")
        return out


# --- quiescence -----------------------------------------------------------------------


async def snapshot(fs: FaultStack, account_id: str) -> tuple[Any, ...]:
    acc = [account_id]
    q = fs.query
    counts = (
        await q("identity", "select count(*) from users where account_id = any($1)", acc),
        await q("account", "select count(*) from known_users where account_id = any($1)", acc),
        await q(
            "account",
            "select coalesce(sum(calls),0) from call_counts where account_id = any($1)",
            acc,
        ),
        await q("invite-scheduler", "select count(*) from users where account_id = any($1)", acc),
        await q(
            "invite-scheduler",
            "select status, count(*) from invites where account_id = any($1) group by status"
            " order by status",
            acc,
        ),
        await q(
            "engage-import", "select count(*) from directory_users where account_id = any($1)", acc
        ),
        await q("engage-import", "select count(*) from agents where account_id = any($1)", acc),
        await q(
            "engage-import",
            "select count(*) from import_jobs where account_id = any($1) and status <> 'finished'",
            acc,
        ),
    )
    return (tuple(tuple(r) for rows in counts for r in rows), len(fs.mails()))


async def in_flight(fs: FaultStack) -> int:
    """Messages every durable consumer still has to handle or to acknowledge (one held
    by a killed process comes back after the consumer's ack wait)."""
    n = 0
    for stream in await fs.js.streams_info():
        name = str(stream.config.name)
        if name.startswith("KV_"):
            # the revocation bucket: every instance writes a heartbeat five times a
            # second and watches it with an ephemeral consumer; never "quiet"
            continue
        for c in await fs.js.consumers_info(name):
            if c.config.durable_name:
                n += (c.num_pending or 0) + (c.num_ack_pending or 0)
    return n


async def quiesce(fs: FaultStack, account_id: str, quiet: float, deadline: float) -> bool:
    """Until no consumer has a message in flight and nothing changed for ``quiet``
    seconds (True), or ``deadline`` passed."""
    end = time.monotonic() + deadline
    last: Any = None
    since = time.monotonic()
    while time.monotonic() < end:
        fs.revive_dead()
        try:
            pending = await in_flight(fs)
            now = (await snapshot(fs, account_id), pending) if pending == 0 else None
        except Exception as exc:  # the database may still be coming back
            fs.note(f"snapshot failed: {exc}")
            now = None
        if now is None or now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
        await asyncio.sleep(1)
    return False


# --- the checks -------------------------------------------------------------------------


def _token(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else str(msg)
    m = re.search(r"https?://\S+", text)
    if not m:
        return ""
    link = m.group(0).rstrip(".,)>")
    q = re.search(r"[?&]token=([^&\s]+)", link)
    return q.group(1) if q else link.rstrip("/").rsplit("/", 1)[-1]


def _sent_order(msg: EmailMessage) -> str:
    return str(msg.get("Date", ""))


async def check(
    fs: FaultStack, load: Workload, fault: str, redeem_sample: int = 10, bound: int = 0
) -> Result:
    res = Result(fault, bound=bound)
    ledger = load.ledger
    acc = [load.account_id]
    q = fs.query

    # users.add: every acknowledged user exists once; no email twice
    users = await q(
        "identity", "select id, email, status from users where account_id = any($1)", acc
    )
    by_id = {r["id"]: r for r in users}
    per_email: dict[str, int] = {}
    for r in users:
        per_email[r["email"].lower()] = per_email.get(r["email"].lower(), 0) + 1
    acked = ledger.of("user")
    found = [o for o in acked if o.data["user_id"] in by_id]
    dup = sum(
        per_email.get(o.key.lower(), 0) - 1
        for o in ledger.of("user", None)
        if per_email.get(o.key.lower(), 0) > 1
    )
    undecided = len(ledger.of("user", "indeterminate"))
    res.add(
        "users added",
        len(acked),
        len(found),
        len(acked) - len(found),
        dup,
        f"{undecided} indeterminate" if undecided else "",
    )

    # directory ingest: every acknowledged request provisioned once
    reqs = ledger.of("directory")
    rows = await q(
        "identity",
        "select request_id, user_id, outcome from provisioning_requests where account_id = any($1)",
        acc,
    )
    outcome = {r["request_id"]: r for r in rows}
    ok = [o for o in reqs if o.key in outcome and outcome[o.key]["outcome"] == "added"]
    failed = [o for o in reqs if o.key in outcome and outcome[o.key]["outcome"] != "added"]
    dup = sum(
        per_email.get(o.data["email"].lower(), 0) - 1
        for o in reqs
        if per_email.get(o.data["email"].lower(), 0) > 1
    )
    res.add(
        "directory requests",
        len(reqs),
        len(ok),
        len(reqs) - len(ok),
        dup,
        f"{len(failed)} refused by identity" if failed else "",
    )

    # projections: every service holds the same set of users as identity
    expected = set(by_id)
    for service, table, column in (
        ("account", "known_users", "user_id"),
        ("invite-scheduler", "users", "user_id"),
        ("engage-import", "directory_users", "user_id"),
    ):
        have = {
            r[0]
            for r in await q(
                service, f"select {column} from {table} where account_id = any($1)", acc
            )
        }
        extra = len(have - expected)
        res.add(
            f"users known to {service}",
            len(expected),
            len(expected & have),
            len(expected - have),
            extra,
            f"{extra} unknown to identity" if extra else "",
        )

    # invites: every due invite mailed exactly once, every mailed link works
    mails = fs.mails()
    due_emails: list[str] = []
    quiet_emails: list[str] = []
    for o in acked:
        setup = o.data["setup"]
        if setup["option"] == "send_invite":
            due_emails.append(o.key)
        elif setup["option"] == "schedule_invite":
            due_emails.append(o.key)  # all were scheduled seconds ahead and are due by now
        else:
            quiet_emails.append(o.key)
    for o in ok:
        (due_emails if o.data.get("setup") == "send_invite" else quiet_emails).append(
            o.data["email"]
        )
    inv = await q(
        "invite-scheduler",
        "select email, status, reason from invites where account_id = any($1)",
        acc,
    )
    inv_status = {r["email"].lower(): r for r in inv}
    mailed = lost = extra = failed_visibly = 0
    for e in due_emails:
        n = len(mails.get(e.lower(), []))
        if n >= 1:
            mailed += 1
            extra += n - 1
        elif e.lower() in inv_status and inv_status[e.lower()]["status"] == "Failed":
            failed_visibly += 1  # the SMTP server refused it for good: visible to the admin
        else:
            lost += 1
    unexpected = sum(len(mails.get(e.lower(), [])) for e in quiet_emails)
    note = []
    if failed_visibly:
        note.append(f"{failed_visibly} Failed (SMTP 5xx), visible")
    if unexpected:
        note.append(f"{unexpected} mailed without an invite")
    if bound:
        note.append(f"bound {bound}")
    res.add(
        "invites mailed",
        len(due_emails),
        mailed + failed_visibly,
        lost,
        extra + unexpected,
        "; ".join(note),
    )

    # mailed links: a re-sent email must carry the same link; redeem a sample
    multi = [e for e in due_emails if len(mails.get(e.lower(), [])) > 1]
    new_link = [
        e
        for e in multi
        if len({_token(m) for m in mails[e.lower()]}) > 1
        or len({str(m.get("Message-ID")) for m in mails[e.lower()]}) > 1
    ]
    res.add(
        "re-sent with the same link",
        len(multi),
        len(multi) - len(new_link),
        0,
        len(new_link),
        "duplicated = re-sent with a new link or Message-ID" if new_link else "",
    )
    single = [e for e in due_emails if len(mails.get(e.lower(), [])) == 1]
    # (each redeem costs a password hash: a sample, and a few of the re-sent ones)
    sample = load.rng.sample(multi, min(len(multi), 5)) + load.rng.sample(
        single, min(len(single), redeem_sample)
    )
    working = dead = 0
    errors: dict[str, int] = {}
    for e in sample:
        tokens: list[str] = []
        for m in sorted(mails[e.lower()], key=_sent_order):
            t = _token(m)
            if t not in tokens:
                tokens.append(t)
        for i, t in enumerate(tokens):
            try:
                await fs.call("identity.v1.activation.complete", {"token": t, "password": PASSWORD})
            except AppError as err:
                dead += 1
                errors[f"{err.code}: {err.message}"] = (
                    errors.get(f"{err.code}: {err.message}", 0) + 1
                )
                continue
            working += 1
            dead += len(tokens) - i - 1  # a link mailed before the one that works is dead
            break
    res.add(
        "mailed links work",
        len(sample),
        working,
        dead,
        0,
        "; ".join(
            [f"sampled {len(sample)} of {mailed} addresses"]
            + [f"{n}x {e}" for e, n in errors.items()]
        ),
    )

    # call events: each counted once; one overage charge per free user over 10 calls
    calls = ledger.of("call")
    exp: dict[str, int] = {}
    for o in calls:
        exp[o.data["user_id"]] = exp.get(o.data["user_id"], 0) + 1
    got = {
        r["user_id"]: r["n"]
        for r in await q(
            "account",
            "select user_id, sum(calls)::int n from call_counts where account_id = any($1)"
            " group by user_id",
            acc,
        )
    }
    c_lost = sum(max(0, n - got.get(u, 0)) for u, n in exp.items())
    c_dup = sum(max(0, got.get(u, 0) - n) for u, n in exp.items())
    res.add("call events counted", len(calls), len(calls) - c_lost, c_lost, c_dup)
    charges = await q(
        "account",
        "select user_id, count(*)::int n from charges where account_id = any($1)"
        " and kind = 'free_user_overage' group by user_id",
        acc,
    )
    charged = {r["user_id"]: r["n"] for r in charges}
    want = [u for u, n in exp.items() if n > FREE_CALLS]
    res.add(
        "overage charges",
        len(want),
        sum(1 for u in want if charged.get(u, 0) >= 1),
        sum(1 for u in want if charged.get(u, 0) == 0),
        sum(max(0, n - 1) for n in charged.values()),
    )

    # engage import: every user of an acknowledged import is an agent, once
    imports = ledger.of("engage_import")
    wanted = {u for o in imports for u in o.data["user_ids"]}
    agents = await q(
        "engage-import",
        "select user_id, count(*)::int n from agents where account_id = any($1) group by user_id",
        acc,
    )
    n_agents = {r["user_id"]: r["n"] for r in agents}
    reasons = await q(
        "engage-import",
        "select i.reason, count(*)::int n from import_items i"
        " join import_jobs j on j.id = i.import_id"
        " where j.account_id = any($1) and i.status = 'rejected' group by i.reason",
        acc,
    )
    why = "; ".join(f"{r['n']} rejected: {r['reason']}" for r in reasons)
    res.add(
        "engage agents",
        len(wanted),
        sum(1 for u in wanted if n_agents.get(u, 0) >= 1),
        sum(1 for u in wanted if n_agents.get(u, 0) == 0),
        sum(n - 1 for n in n_agents.values() if n > 1),
        why,
    )
    return res


# --- the table --------------------------------------------------------------------------

HEADER = ("fault", "effect", "acknowledged", "applied", "lost", "duplicated", "note")


def table(rows: list[Row]) -> str:
    cells = [HEADER] + [
        (
            r.fault,
            r.effect,
            str(r.acknowledged),
            str(r.applied),
            str(r.lost),
            str(r.duplicated),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for k, c in enumerate(cells):
        lines.append("| " + " | ".join(v.ljust(widths[i]) for i, v in enumerate(c)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
