"""A plain SMTP connection (no TLS, no AUTH) that sends one ASCII mail to one
recipient in two round trips when the server offers PIPELINING (RFC 2920):
``MAIL``, ``RCPT`` and ``DATA`` written together, then the message. aiosmtplib
waits for each reply before the next command (four round trips a mail) and drops
replies that arrive early, so it cannot pipeline. Without PIPELINING the same
commands go one at a time. Replies raise the exceptions aiosmtplib raises for them
(``SMTPSenderRefused``, ``SMTPRecipientsRefused``, ``SMTPDataError``), so the mailer
treats both clients alike."""

from __future__ import annotations

import asyncio
import functools
import socket

import aiosmtplib

MAX_REPLY_LINES = 100
INVALID = aiosmtplib.SMTPStatus.invalid_response.value  # as aiosmtplib reports a bad reply


@functools.cache
def _local_hostname() -> bytes:
    return socket.getfqdn().encode("ascii", "replace") or b"localhost"


def dot_stuffed(raw: bytes) -> bytes:
    """The message as written after ``DATA``: CRLF line ends, a leading ``.`` doubled,
    ended by ``.`` alone on a line (RFC 5321 4.5.2)."""
    if b"\n" in raw.replace(b"\r\n", b""):  # a bare LF (or CR LF split oddly): normalise
        raw = b"\r\n".join(raw.splitlines())
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\r\n.", b"\r\n..") + b".\r\n"


class PlainSmtp:
    """One open connection; used by one sender at a time (the mailer's slot)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.pipelining = False

    @classmethod
    async def open(cls, host: str, port: int) -> PlainSmtp:
        reader, writer = await asyncio.open_connection(host, port)
        conn = cls(reader, writer)
        try:
            code, text = await conn._reply()
            if code != 220:
                raise aiosmtplib.SMTPConnectResponseError(code, text)
            await conn._hello()
        except BaseException:
            conn.close()
            raise
        return conn

    async def _hello(self) -> None:
        code, text = await self._command(b"EHLO " + _local_hostname())
        if code == 250:
            keywords = {line.split(" ", 1)[0].upper() for line in text.splitlines()[1:]}
            self.pipelining = "PIPELINING" in keywords
            return
        code, text = await self._command(b"HELO " + _local_hostname())
        if code != 250:
            raise aiosmtplib.SMTPHeloError(code, text)

    @property
    def is_connected(self) -> bool:
        return not self._writer.is_closing() and not self._reader.at_eof()

    async def send(self, sender: str, to: str, raw: bytes) -> None:
        """One mail; raises as aiosmtplib's ``mail``/``rcpt``/``data`` would (the
        caller drops the connection on any error)."""
        if any(c in addr for addr in (sender, to) for c in "\r\n"):
            raise ValueError("Command arg contains a prohibited control character")
        commands = (f"MAIL FROM:<{sender}>\r\n".encode(), f"RCPT TO:<{to}>\r\n".encode())
        if self.pipelining:
            self._writer.write(b"".join(commands) + b"DATA\r\n")
            mail, rcpt, data = await self._reply(), await self._reply(), await self._reply()
        else:
            mail = await self._command(commands[0][:-2])
            rcpt = await self._command(commands[1][:-2]) if mail[0] == 250 else mail
            data = await self._command(b"DATA") if rcpt[0] in (250, 251) else rcpt
        if mail[0] != 250:
            raise aiosmtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            refused = aiosmtplib.SMTPRecipientRefused(rcpt[0], rcpt[1], to)
            raise aiosmtplib.SMTPRecipientsRefused([refused])
        if data[0] != 354:
            raise aiosmtplib.SMTPDataError(data[0], data[1])
        self._writer.write(dot_stuffed(raw))
        code, text = await self._reply()
        if code != 250:
            raise aiosmtplib.SMTPDataError(code, text)

    async def _command(self, line: bytes) -> tuple[int, str]:
        self._writer.write(line + b"\r\n")
        return await self._reply()

    async def _reply(self) -> tuple[int, str]:
        """One reply (all its lines): its code and text."""
        lines: list[str] = []
        for _ in range(MAX_REPLY_LINES):
            try:
                line = await self._reader.readline()
            except ValueError:  # over the stream's line limit
                raise aiosmtplib.SMTPResponseException(INVALID, "SMTP reply too long") from None
            if not line.endswith(b"\n"):
                raise aiosmtplib.SMTPServerDisconnected("Connection lost")
            try:
                code = int(line[:3])
            except ValueError:
                raise aiosmtplib.SMTPResponseException(INVALID, "Malformed SMTP reply") from None
            lines.append(line[4:].strip(b" \t\r\n").decode("utf-8", "surrogateescape"))
            if line[3:4] != b"-":
                return code, "\n".join(lines)
        raise aiosmtplib.SMTPResponseException(INVALID, "SMTP reply too long")

    def close(self) -> None:
        self._writer.close()
