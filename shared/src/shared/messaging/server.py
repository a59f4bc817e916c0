"""What the design needs of the NATS server, checked at every start."""

from __future__ import annotations

import re

from nats.aio.client import Client

# consumer filter subjects (several per consumer) arrived in 2.10; an older server
# silently drops them, so every consumer would receive every event of its stream
MIN_NATS_VERSION = (2, 10)


class UnsupportedServer(RuntimeError):
    """The NATS server lacks a feature the services rely on."""


def parse_version(version: str) -> tuple[int, int, int] | None:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def check_server_version(version: str, needed: tuple[int, int] = MIN_NATS_VERSION) -> None:
    """Raise :class:`UnsupportedServer` naming the version found and the one needed."""
    want = ".".join(map(str, needed))
    found = parse_version(version)
    if found is None:
        raise UnsupportedServer(
            f"NATS server version {version!r} cannot be read; {want} or newer is needed"
        )
    if found[:2] < needed:
        raise UnsupportedServer(
            f"NATS server {version} is too old: {want} or newer is needed"
            " (consumer filter subjects are silently ignored before 2.10)"
        )


def server_version(nc: Client) -> str:
    """The version the connected server announced in its INFO."""
    v = nc.connected_server_version
    return f"{v.major}.{v.minor}.{v.patch}" if v.major or v.minor else "0.0.0-unknown"
