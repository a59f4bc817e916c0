"""Password recovery links (DOMAIN.md section 6, "Credentials").

Identity publishes ``events.identity.recovery.requested`` (no secret); this service,
the only mail sender and the only holder of the token key, records the recovery with
the hash of its token (derived from the recovery's id: created once, the same link on
a re-send), mails the link durably through the same lease-and-record machinery as
invites (scheduler.Dispatcher), and answers identity's ``invites.v1.recovery.redeem``:
check a token, consume it (single use), or count a wrong answer to the security
question (after ``RECOVERY_MAX_ANSWER_FAILURES`` the link dies)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.contracts import invites as c
from shared.contracts.event_data import RecoveryRequested
from shared.errors import Conflict, NotFound
from shared.ids import new_id

from invite_scheduler import domain as d
from invite_scheduler.ports import Row, UnitOfWork
from invite_scheduler.scheduler import RECORD_TRIES, Dispatcher

log = logging.getLogger(__name__)

MAX_FAILURES = c.RECOVERY_MAX_ANSWER_FAILURES


async def on_recovery_requested(
    ev: RecoveryRequested, uow: UnitOfWork, *, token_key: bytes, ttl_seconds: int
) -> bool:
    """Record the recovery (once per id) and kill the user's earlier recovery links.
    True when a mail is due."""
    account = await uow.accounts.get(ev.account_id)
    if account is not None and account["status"] != "Active":
        log.info("recovery %s not mailed: the account is %s", ev.recovery_id, account["status"])
        return False
    now = datetime.now(UTC)
    token = d.derive_recovery_token(token_key, ev.recovery_id)
    added = await uow.recoveries.add(
        {
            "id": ev.recovery_id,
            "account_id": ev.account_id,
            "user_id": ev.user_id,
            "email": ev.email,
            "first_name": ev.first_name,
            "last_name": ev.last_name,
            "language": ev.language or (account or {}).get("default_language"),
            "time_zone": ev.time_zone or (account or {}).get("default_time_zone"),
            "token_hash": d.hash_token(token),
            "status": "Scheduled",
            "due_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        }
    )
    if added:
        await uow.recoveries.revoke_live(reason="replaced", user_id=ev.user_id, keep=ev.recovery_id)
    return added


def _error(row: Row | None) -> Exception | None:
    """Distinct reasons, and never any user data."""
    if row is None:
        return NotFound("The recovery link is not valid.", {"reason": "invalid"})
    if row["status"] == "Used":
        return Conflict("The recovery link has already been used.", {"reason": "used"})
    if row["status"] == "Revoked" and row["reason"] == "too_many_attempts":
        return Conflict(
            "The recovery link no longer works: too many wrong answers.",
            {"reason": "too_many_attempts"},
        )
    if row["status"] not in ("Scheduled", "Sent"):
        return Conflict("The recovery link was replaced or cancelled.", {"reason": "revoked"})
    if row["expired"]:
        return Conflict("The recovery link has expired.", {"reason": "expired"})
    return None


async def redeem(cmd: c.RedeemRecovery, uow: UnitOfWork) -> c.RecoveryRedeemed:
    """``check``: is the link live; ``consume``: use it (of two concurrent consumes the
    second waits on the row lock and finds it used); ``fail``: one more wrong answer."""
    async with uow:
        row = await uow.recoveries.by_token(
            d.hash_token(cmd.token), for_update=cmd.action != "check"
        )
        err = _error(row)
        if err is not None:
            raise err
        assert row is not None
        failures = row["answer_failures"]
        if cmd.action == "consume":
            await uow.recoveries.update(
                row["id"], {"status": "Used", "used_at": datetime.now(UTC), "lease_id": None}
            )
            await uow.commit()
        elif cmd.action == "fail":
            failures += 1
            values: dict[str, Any] = {"answer_failures": failures}
            if failures >= MAX_FAILURES:
                values |= {"status": "Revoked", "reason": "too_many_attempts", "lease_id": None}
            await uow.recoveries.update(row["id"], values)
            await uow.commit()
    return c.RecoveryRedeemed(
        recovery_id=row["id"],
        user_id=row["user_id"],
        account_id=row["account_id"],
        attempts_left=max(MAX_FAILURES - failures, 0),
    )


@dataclass(frozen=True)
class _Result:
    recovery_id: str
    attempts: int
    error: d.DeliveryFailed | None = None


class RecoveryDispatcher(Dispatcher):
    """Mails due recovery links: claimed under a lease, each outcome recorded as soon
    as the SMTP server has answered (as invites are; scheduler.py)."""

    async def next_due(self) -> float | None:
        async with self._uow() as uow:
            return await uow.recoveries.seconds_to_next_due()

    async def _round(self) -> int:
        return await self.run_once()  # a batch at a time (its own claim and slots)

    async def run_once(self) -> int:
        lease_id = new_id("lease")
        # as for invites: nothing starts once most of the lease is gone (handed back)
        deadline = asyncio.get_running_loop().time() + self.config.send_lease_seconds * 0.8
        async with self._uow() as uow:
            rows = await uow.recoveries.claim_due(
                limit=self.config.claim_batch,
                lease_seconds=self.config.send_lease_seconds,
                lease_id=lease_id,
            )
            names = {r["account_id"]: await uow.accounts.name(r["account_id"]) for r in rows}
            await uow.commit()
        sem = asyncio.Semaphore(self.config.send_concurrency)
        untouched = {r["id"] for r in rows}

        async def one(row: Row) -> None:
            async with sem:
                if asyncio.get_running_loop().time() > deadline:
                    return
                untouched.discard(row["id"])
                result = await self._mail(row, names.get(row["account_id"]) or "")
                await self._note(result, lease_id)

        try:
            await asyncio.gather(*(one(r) for r in rows))
        finally:
            if untouched:
                with contextlib.suppress(Exception):
                    async with self._uow() as uow:
                        await uow.recoveries.release(
                            recovery_ids=list(untouched), lease_id=lease_id
                        )
                        await uow.commit()
        return len(rows)

    async def _mail(self, row: Row, account_name: str) -> _Result:
        token = d.derive_recovery_token(self._token_key, row["id"])
        mail = d.welcome_email(
            kind="recovery",
            to=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            account_name=account_name,
            link=d.activation_link(self.config.recovery_link_base_url, token),
            expires_at=row["expires_at"],
            product=self.config.product_name,
            language=row["language"],
            time_zone=row["time_zone"],
        )
        try:
            await self.mailer.send(
                mail, message_id=d.message_id(row["id"], 0, self.config.mail_from)
            )
        except d.DeliveryFailed as exc:
            log.warning("recovery %s not delivered: %s", row["id"], exc.reason)
            return _Result(row["id"], row["attempts"], exc)
        self.sent_count += 1
        return _Result(row["id"], row["attempts"])

    async def _note(self, r: _Result, lease_id: str) -> None:
        for pause in (*RECORD_TRIES, None):
            try:
                async with self._uow() as uow:
                    if r.error is None:
                        await uow.recoveries.mark_sent(recovery_id=r.recovery_id, lease_id=lease_id)
                    elif r.error.transient and r.attempts < self.config.max_attempts:
                        await uow.recoveries.mark_retry(
                            recovery_id=r.recovery_id,
                            lease_id=lease_id,
                            delay_seconds=d.retry_delay(r.attempts, self.config.retry_delays),
                            reason=r.error.reason,
                        )
                    else:
                        await uow.recoveries.mark_failed(
                            recovery_id=r.recovery_id, lease_id=lease_id, reason=r.error.reason
                        )
                    await uow.commit()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if pause is None:
                    log.error("recovery %s: outcome not recorded (%s)", r.recovery_id, exc)
                    return
                await asyncio.sleep(pause)
