"""``python -m devstack run``: the whole system in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack.ports import moved_warning
from devstack.stack import SERVICES, Stack, read_env_file


def banner(stack: Stack, took: float, maildir: str) -> str:
    env = stack.env
    root = stack.root
    user = env.get("NATS_USER", "(from your environment)")
    inbox = env.get("NATS_INBOX_PREFIX", "_INBOX")
    py = _venv_python()
    external = ""
    if stack.nats is None:
        external = f"""
  Your NATS server (NATS_URL) must run this system's users and permissions:
  `{py} -m shared.natsconf --env-out nats.env` prints the nats.conf
  authorization block and writes the credentials to pass (see docs/security.md).
"""
    http = "\n".join(
        f"  {name:<17} http://127.0.0.1:{port}/metrics  /healthz  /readyz"
        for name, port in stack.metrics_ports.items()
    )
    warning = moved_warning(stack.moved, str(stack.env_file))
    cli = str(Path(py).parent / "provisioning")
    req_dir = ""
    if stack.env_file.resolve() != (Path.cwd() / ".devstack" / "env").resolve():
        # not where the CLI and `devstack req` look by default
        cli += f" --env-file {stack.env_file}"
        req_dir = f" --dir {stack.root}"
    return f"""
The provisioning stack is up ({took:.1f}s).

  NATS        {env["NATS_URL"]}  (authenticated; client user {user}, inbox prefix {inbox})
  PostgreSQL  {env["DATABASE_URL"]}  (one database per service)
  SMTP        {env["SMTP_HOST"]}:{env["SMTP_PORT"]}   mail kept in {maildir}
  Logs        {root / "logs"}/<service>.log   (LOG_LEVEL=DEBUG make run for more)
  Services    {", ".join(SERVICES)}
  Metrics and health (HTTP, this machine only):
{http}

  Operator    {env["OPERATOR_EMAIL"]}  /  {env["OPERATOR_PASSWORD"]}
  Credentials {stack.env_file}  (mode 0600: NATS_URL, NATS_USER, NATS_PASSWORD,
              NATS_INBOX_PREFIX, INGEST_NATS_*, OBSERVER_NATS_*, OPERATOR_EMAIL,
              OPERATOR_PASSWORD)
{external}
First commands (in another terminal, in this directory; the CLI reads {stack.env_file}):
  {cli} login --operator
  {cli} status
  {cli} accounts create "Acme Corp" --country US --plan ultra
  {cli} events tail          (as the read-only observer NATS user)

One raw request (no CLI):
  {py} -m devstack req identity.v1.health{req_dir}
{warning + chr(10) if warning else ""}
Ctrl-C stops everything (so does SIGTERM)."""


def _venv_python() -> str:
    """How to run this Python from the current directory (``.venv/bin/python`` as a
    relative path when it is the project's environment)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe)


def run(root: Path) -> int:
    started = time.monotonic()
    stack = Stack(root)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start_infra()
        stack.start_services()
        asyncio.run(stack.wait_healthy())
        took = time.monotonic() - started
        maildir = f"{stack.maildir}/new" if stack.maildir else "(external server)"
        print(banner(stack, took, maildir), flush=True)
        while not stopping:
            stack.supervise_once()
            time.sleep(0.5)
        return 0
    except Exception as exc:
        print(f"[devstack] failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("[devstack] stopping ...", flush=True)
        stack.stop()
        print("[devstack] stopped.", flush=True)


def req(root: Path, subject: str, body: str, token: str | None) -> int:
    """One request as the client role: ``NATS_URL`` / ``NATS_USER`` / ``NATS_PASSWORD``
    / ``NATS_INBOX_PREFIX`` (or ``NATS_CREDS``) from the environment, else from the
    running stack's ``<root>/env``."""
    import json
    import os

    import nats
    from shared.settings import nats_env_kwargs

    env = read_env_file(root / "env") if (root / "env").exists() else {}
    env |= {k: v for k, v in os.environ.items() if k.startswith("NATS_")}
    url = env.get("NATS_URL", "nats://127.0.0.1:4250")

    async def go() -> int:
        nc = await nats.connect(url, **nats_env_kwargs("", env))
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else None
            msg = await nc.request(subject, body.encode(), timeout=10, headers=headers)
            print(json.dumps(json.loads(msg.data), indent=2))
            return 1 if msg.headers and "Nats-Service-Error-Code" in msg.headers else 0
        finally:
            await nc.close()

    return asyncio.run(go())


def main() -> None:
    import os

    parser = argparse.ArgumentParser(prog="devstack")
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start the whole system in the foreground")
    r.add_argument("--dir", default=".devstack", help="where data, logs and mail are kept")
    q = sub.add_parser("req", help="send one request and print the reply")
    q.add_argument("subject")
    q.add_argument("body", nargs="?", default="{}")
    q.add_argument("--token", default=os.environ.get("TOKEN"))
    q.add_argument("--dir", default=".devstack", help="the stack's directory (for its env file)")
    args = parser.parse_args()
    if args.cmd == "run":
        sys.exit(run(Path(args.dir).resolve()))
    sys.exit(req(Path(args.dir), args.subject, args.body, args.token))


if __name__ == "__main__":
    main()
