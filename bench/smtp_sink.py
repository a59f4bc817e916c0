"""A minimal SMTP sink for benchmarks (``python -m bench.smtp_sink PORT``): accepts
every message, keeps nothing but a count (printed on SIGTERM). It exists so a
benchmark measures the invite scheduler, not the dev stack's Maildir server."""

from __future__ import annotations

import asyncio
import signal
import sys

count = 0


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global count
    writer.write(b"220 sink ESMTP\r\n")
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if cmd == b"EHLO":
                writer.write(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
            elif cmd == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while True:
                    data = await reader.readline()
                    if data in (b".\r\n", b".\n", b""):
                        break
                count += 1
                writer.write(b"250 OK queued\r\n")
            elif cmd == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                writer.write(b"250 OK\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(session, "127.0.0.1", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        await stop.wait()
    print(count, flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
