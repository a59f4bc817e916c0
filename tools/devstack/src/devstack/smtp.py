"""A local SMTP server that keeps every message it receives in a Maildir
(``<dir>/new/*``), where an operator or a test can read it."""

from __future__ import annotations

import email
import email.policy
import mailbox
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("cur", "new", "tmp"):  # Maildir(create=True) skips them if path exists
            (path / sub).mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(str(path), create=True)
        self.fail_next = 0  # tests: answer the next N messages with a transient error
        # tests (fault suite): answer every message with this reply instead of keeping
        # it, e.g. "451 4.3.0 Try again later" or "554 5.7.1 Rejected"; None keeps mail
        self.answer: str | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        if self.answer is not None:
            return self.answer
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        self.box.add(raw)
        return "250 OK"


class MailServer:
    def __init__(self, maildir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.handler = MaildirHandler(maildir)
        self.port = port
        self.host = host
        self.controller = Controller(self.handler, hostname=host, port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        return read_messages(self.handler.path)

    def messages_to(self, address: str) -> list[EmailMessage]:
        return read_messages(self.handler.path, to=address)


def read_messages(maildir: Path, *, to: str | None = None) -> list[EmailMessage]:
    """Every message kept in ``maildir`` (or those addressed to ``to``)."""
    box = mailbox.Maildir(str(maildir), create=False)
    out: list[EmailMessage] = []
    for key in box.iterkeys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        if to is None or to.lower() in str(msg.get("To", "")).lower():
            out.append(msg)  # type: ignore[arg-type,unused-ignore]
    return out
