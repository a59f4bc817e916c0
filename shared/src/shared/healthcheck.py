"""``python -m shared.healthcheck <subject>``: exit 0 when the service answers healthy
(used by container health checks). Connects as ``NATS_USER`` / ``NATS_PASSWORD`` /
``NATS_INBOX_PREFIX`` (or ``NATS_CREDS``): in a service's container, its own user,
which may call its own health subject."""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def check(subject: str) -> int:
    import nats

    from shared.settings import nats_env_kwargs

    try:
        nc = await nats.connect(
            os.environ.get("NATS_URL", "nats://127.0.0.1:4222"),
            connect_timeout=2,
            allow_reconnect=False,
            **nats_env_kwargs(""),
        )
    except Exception:
        return 1
    try:
        msg = await nc.request(subject, b"{}", timeout=2)
        return 0 if json.loads(msg.data).get("status") == "ok" else 1
    except Exception:
        return 1
    finally:
        await nc.close()


def main() -> None:
    sys.exit(asyncio.run(check(sys.argv[1])))


if __name__ == "__main__":
    main()
