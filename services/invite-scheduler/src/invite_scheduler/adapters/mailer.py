"""Welcome emails over SMTP (aiosmtplib) through a small pool of open connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from invite_scheduler.adapters.smtp_wire import PlainSmtp
from invite_scheduler.domain import DeliveryFailed, WelcomeEmail, is_transient_smtp

log = logging.getLogger(__name__)

_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP  # as EmailMessage's choice for these texts (not base64)
MAX_HEADER = 78  # longer (or not ASCII): RFC 2047 encoded and folded


def welcome_mime(sender: str, mail: WelcomeEmail, message_id: str) -> bytes:
    """The mail as sent (ASCII addresses): multipart/alternative, the plain text then
    the HTML, each UTF-8 quoted-printable. Written directly: the ``email`` package's
    objects and generator cost about 1 to 3 ms of CPU a mail, which bounded a burst
    of sends. A quoted-printable body never holds ``=`` unescaped, so it cannot hold
    the boundary."""
    boundary = f"==============={secrets.randbelow(10**19):019d}=="
    subject = mail.subject
    if not subject.isascii() or len(subject) + len("Subject: ") > MAX_HEADER:
        subject = Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    head = (
        f"From: {sender}\r\nTo: {mail.to}\r\nSubject: {subject}\r\n"
        f"Date: {formatdate(localtime=False, usegmt=True)}\r\nMessage-ID: {message_id}\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'
    )
    parts = "".join(
        f"\r\n--{boundary}\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{_crlf(_QP_UTF8.body_encode(body))}\r\n"
        for subtype, body in (("plain", mail.text), ("html", mail.html))
    )
    return f"{head}{parts}\r\n--{boundary}--\r\n".encode("ascii")


def _crlf(text: str) -> str:
    return "\r\n".join(text.splitlines())


def utf8_message(sender: str, mail: WelcomeEmail, message_id: str) -> EmailMessage:
    """The same mail to an address that is not ASCII (sent with SMTPUTF8)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


async def _send_raw(client: aiosmtplib.SMTP, sender: str, to: str, raw: bytes) -> None:
    """``client.sendmail(sender, [to], raw)`` without what it adds for one plain ASCII
    recipient on a connection of its own: each address parsed twice more and the
    message scanned once more for the optional SIZE. A refused recipient still raises
    ``SMTPRecipientsRefused`` as ``sendmail`` does; the caller drops the connection on
    any error (so no RSET)."""
    await client.mail(sender)
    try:
        await client.rcpt(to)
    except aiosmtplib.SMTPRecipientRefused as exc:
        raise aiosmtplib.SMTPRecipientsRefused([exc]) from exc
    await client.data(raw)


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
        self._pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)
        self._idle: list[aiosmtplib.SMTP | PlainSmtp] = []
        # no TLS, no AUTH: ASCII mails go over PlainSmtp (pipelined where offered)
        self._plain = not starttls and not self._username

    async def _connect(self, plain: bool) -> aiosmtplib.SMTP | PlainSmtp:
        if plain:
            async with asyncio.timeout(self._timeout):
                return await PlainSmtp.open(self._host, self._port)
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

    async def send(self, email: WelcomeEmail, *, message_id: str) -> None:
        ascii_only = email.to.isascii() and self._sender.isascii()
        raw = welcome_mime(self._sender, email, message_id) if ascii_only else None
        plain = self._plain and raw is not None
        async with self._slots:
            client = self._idle_client(plain)
            try:
                if client is None or not client.is_connected:
                    client = await self._connect(plain)
                if isinstance(client, PlainSmtp):
                    assert raw is not None
                    async with asyncio.timeout(self._timeout):
                        await client.send(self._sender, email.to, raw)
                elif raw is not None:
                    await _send_raw(client, self._sender, email.to, raw)
                else:
                    msg = utf8_message(self._sender, email, message_id)
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
            if len(self._idle) > self._pool_size:  # both kinds in use: keep the newest
                await self._discard(self._idle.pop(0))

    def _idle_client(self, plain: bool) -> aiosmtplib.SMTP | PlainSmtp | None:
        """An idle connection of the kind this mail goes over (None: open one)."""
        for i in range(len(self._idle) - 1, -1, -1):
            if isinstance(self._idle[i], PlainSmtp) == plain:
                return self._idle.pop(i)
        return None

    async def _discard(self, client: aiosmtplib.SMTP | PlainSmtp | None) -> None:
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                client.close()
