from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass

STRICT_ENV = "DEVSTACK_STRICT_PORTS"


def free_port(preferred: int | None = None) -> int:
    if preferred:
        with contextlib.closing(socket.socket()) as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PortTaken(RuntimeError):
    """A preferred port is taken and ``DEVSTACK_STRICT_PORTS`` forbids another."""


@dataclass(frozen=True)
class Moved:
    what: str
    preferred: int
    used: int


def pick_port(what: str, preferred: int, moved: list[Moved]) -> int:
    """``preferred`` when it is free; else another free port, recorded in ``moved`` (the
    caller warns loudly), or :class:`PortTaken` when ``DEVSTACK_STRICT_PORTS=1``."""
    port = free_port(preferred)
    if port != preferred:
        if os.environ.get(STRICT_ENV, "") not in ("", "0"):
            raise PortTaken(
                f"port {preferred} ({what}) is taken, and {STRICT_ENV} is set: stop what "
                f"uses it (another `make run`?), or unset {STRICT_ENV} to use another port"
            )
        moved.append(Moved(what, preferred, port))
    return port


def moved_warning(moved: list[Moved], env_file: str) -> str:
    """The loud block printed when a preferred port was taken ('' when none was)."""
    if not moved:
        return ""
    bar = "!" * 78
    lines = [bar, "!!  WARNING: A PREFERRED PORT IS TAKEN; THIS STACK RUNS ON ANOTHER PORT"]
    for m in moved:
        lines.append(f"!!    {m.what:<11} port {m.preferred} is taken -> using {m.used}")
    lines += [
        f"!!  Something else listens on {', '.join(str(m.preferred) for m in moved)}"
        " (another `make run`?).",
        "!!  Requests sent to the usual port go to THAT server, not to this stack.",
        f"!!  {env_file} has this stack's URLs; the provisioning CLI and",
        "!!  `python -m devstack req` read it. (DEVSTACK_STRICT_PORTS=1: refuse instead.)",
        bar,
    ]
    return "\n".join(lines)


def wait_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(socket.socket()) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
