"""The mailer, observed: each send is a span of the trace that asked for the invite
(when this process handled that request's event; shared.tracing) and an accepted
mail leaves an INFO audit line (shared.observability)."""

from __future__ import annotations

import re

from shared.observability import audit, mask_email
from shared.tracing import ContextMemo, client_span

from invite_scheduler.domain import WelcomeEmail
from invite_scheduler.ports import Mailer

_INVITE_ID = re.compile(r"^<([^.>]+)\.(\d+)@")

# the trace context of each invite request, by email address, for the send that follows
invite_traces = ContextMemo()


class TracedMailer:
    def __init__(self, inner: Mailer) -> None:
        self.inner = inner

    async def send(self, email: WelcomeEmail, *, message_id: str) -> None:
        m = _INVITE_ID.match(message_id)
        invite_id = m.group(1) if m else "-"
        parent = invite_traces.recall(email.to.lower())
        with client_span(
            "smtp send",
            "invite-scheduler",
            parent,
            **{"provisioning.invite_id": invite_id, "server.protocol": "smtp"},
        ):
            await self.inner.send(email, message_id=message_id)
        audit("invite email sent", invite_id=invite_id, email=mask_email(email.to))

    async def close(self) -> None:
        await self.inner.close()
