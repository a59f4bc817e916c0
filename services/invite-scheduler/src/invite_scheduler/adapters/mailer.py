"""Welcome emails over SMTP (aiosmtplib) through a small pool of open connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate
from typing import Any, cast

import aiosmtplib

from invite_scheduler.domain import DeliveryFailed, WelcomeEmail, is_transient_smtp

log = logging.getLogger(__name__)

_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP  # as EmailMessage's choice for these texts (not base64)


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(text, _QP_UTF8)
    return part


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        pool_size: int = 20,
        timeout: float = 10.0,
        username: str = "",
        password: str = "",
        starttls: bool = False,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._timeout = timeout
        self._username = username or None
        self._password = password or None
        self._starttls = starttls
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            start_tls=self._starttls,
            username=self._username,
            password=self._password,
        )
        await client.connect()
        return client

    def _message(self, mail: WelcomeEmail, message_id: str) -> Message:
        """The mail: multipart/alternative, plain text then HTML, UTF-8 quoted-printable.
        Built with the ``compat32`` MIME classes (several times cheaper than
        ``EmailMessage``'s header registry, which bounded a burst of sends); a
        recipient address that is not ASCII (SMTPUTF8) takes ``EmailMessage``."""
        if not (mail.to.isascii() and self._sender.isascii()):
            return self._utf8_message(mail, message_id)
        msg = MIMEMultipart("alternative")
        msg["From"] = self._sender
        msg["To"] = mail.to
        # compat32 folds a Header itself (typeshed types the value as str only)
        cast(Any, msg)["Subject"] = (
            mail.subject if mail.subject.isascii() else Header(mail.subject, "utf-8")
        )
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id
        msg.attach(_text_part(mail.text, "plain"))
        msg.attach(_text_part(mail.html, "html"))
        return msg

    def _utf8_message(self, mail: WelcomeEmail, message_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id
        msg.set_content(mail.text)
        msg.add_alternative(mail.html, subtype="html")
        return msg

    async def send(self, email: WelcomeEmail, *, message_id: str) -> None:
        msg = self._message(email, message_id)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                await client.send_message(msg, sender=self._sender, recipients=[email.to])
            except aiosmtplib.SMTPResponseException as exc:
                await self._discard(client)
                raise DeliveryFailed(
                    f"SMTP {exc.code}: {exc.message}"[:500], transient=is_transient_smtp(exc.code)
                ) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._discard(client)
                raise DeliveryFailed(
                    f"SMTP unavailable: {type(exc).__name__}: {exc}"[:500], transient=True
                ) from exc
            except BaseException:
                await self._discard(client)
                raise
            self._idle.append(client)

    async def _discard(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                client.close()
