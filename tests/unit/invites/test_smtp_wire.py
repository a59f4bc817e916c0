"""The plain SMTP client: pipelined MAIL/RCPT/DATA where the server offers it, one at
a time where not, the message dot-stuffed, and refusals raised (and mapped by the
mailer) as with aiosmtplib."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import aiosmtplib
import pytest
from invite_scheduler import domain as d
from invite_scheduler.adapters.mailer import SmtpMailer
from invite_scheduler.adapters.smtp_wire import PlainSmtp, dot_stuffed

WELCOME = d.WelcomeEmail(
    to="ann@example.com", subject="Welcome", text="Hi\n.hidden dot\n", html="<p>Hi</p>"
)


@dataclass
class Server:
    pipelining: bool = True
    replies: dict[bytes, bytes] = field(default_factory=dict)  # command -> its reply
    reads: list[list[bytes]] = field(default_factory=list)  # the lines of each read
    messages: list[bytes] = field(default_factory=list)
    port: int = 0

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            batch = [line, *self._buffered(reader)]
            self.reads.append([b.split(b" ")[0].split(b":")[0].rstrip() for b in batch])
            for cmd in batch:
                writer.write(await self._answer(cmd, reader, writer))
            await writer.drain()
        writer.close()

    @staticmethod
    def _buffered(reader: asyncio.StreamReader) -> list[bytes]:
        data = bytes(reader._buffer)  # type: ignore[attr-defined]  # what arrived with it
        reader._buffer.clear()  # type: ignore[attr-defined]
        return data.splitlines(keepends=True)

    async def _answer(
        self, cmd: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        verb = cmd[:4].upper()
        if verb == b"EHLO":
            offered = b"250-PIPELINING\r\n" if self.pipelining else b""
            return b"250-test\r\n" + offered + b"250 8BITMIME\r\n"
        if verb in self.replies:
            return self.replies[verb]
        if verb == b"DATA":
            writer.write(b"354 go\r\n")
            await writer.drain()
            body = b""
            while (line := await reader.readline()) not in (b".\r\n", b""):
                body += line
            self.messages.append(body)
            return b"250 queued\r\n"
        return b"250 OK\r\n"


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    listener = await asyncio.start_server(srv.session, "127.0.0.1", 0)
    srv.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield srv


def test_dot_stuffing_doubles_leading_dots_and_ends_the_data() -> None:
    assert dot_stuffed(b".a\r\nb\r\n..c") == b"..a\r\nb\r\n...c\r\n.\r\n"
    assert dot_stuffed(b"a\nb\r\n") == b"a\r\nb\r\n.\r\n"


async def test_mail_rcpt_and_data_go_in_one_write_when_pipelining_is_offered(
    server: Server,
) -> None:
    conn = await PlainSmtp.open("127.0.0.1", server.port)
    assert conn.pipelining
    await conn.send("me@example.com", "ann@example.com", b".x\r\ny\r\n")
    await conn.send("me@example.com", "bob@example.com", b"z\r\n")
    conn.close()
    assert [b"MAIL", b"RCPT", b"DATA"] in server.reads
    assert server.messages == [b"..x\r\ny\r\n", b"z\r\n"]


async def test_one_command_at_a_time_without_pipelining(server: Server) -> None:
    server.pipelining = False
    conn = await PlainSmtp.open("127.0.0.1", server.port)
    assert not conn.pipelining
    await conn.send("me@example.com", "ann@example.com", b"x\r\n")
    conn.close()
    assert all(len(r) == 1 for r in server.reads)
    assert server.messages == [b"x\r\n"]


@pytest.mark.parametrize("pipelining", [True, False])
async def test_refusals_raise_as_aiosmtplib_does(server: Server, pipelining: bool) -> None:
    server.pipelining = pipelining
    server.replies[b"RCPT"] = b"550 no such user\r\n"
    server.replies[b"DATA"] = b"554 no valid recipients\r\n"
    conn = await PlainSmtp.open("127.0.0.1", server.port)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await conn.send("me@example.com", "nobody@example.com", b"x\r\n")
    assert refused.value.recipients[0].code == 550
    conn.close()

    server.replies[b"MAIL"] = b"451 try later\r\n"
    conn = await PlainSmtp.open("127.0.0.1", server.port)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as sender:
        await conn.send("me@example.com", "ann@example.com", b"x\r\n")
    assert sender.value.code == 451
    conn.close()
    assert server.messages == []


async def test_the_mailer_sends_over_the_plain_client_and_maps_failures(server: Server) -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=server.port, sender="me@example.com", pool_size=2)
    await asyncio.gather(*(mailer.send(WELCOME, message_id=f"<m{i}@x>") for i in range(4)))
    assert len(server.messages) == 4
    got = message_from_bytes(server.messages[0], policy=policy.default)
    assert got["To"] == "ann@example.com"
    assert ".hidden dot" in got.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    server.replies[b"DATA"] = b"354 go\r\n452 mailbox full\r\n"
    with pytest.raises(d.DeliveryFailed) as transient:
        await mailer.send(WELCOME, message_id="<m5@x>")
    assert transient.value.transient
    server.replies[b"RCPT"] = b"550 no such user\r\n"
    server.replies[b"DATA"] = b"554 no valid recipients\r\n"
    with pytest.raises(d.DeliveryFailed):
        await mailer.send(WELCOME, message_id="<m6@x>")
    await mailer.close()
