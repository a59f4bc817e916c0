"""``python -m shared.keys <dir>``: create the deployment's signing keys and internal
key once (``<dir>/keys.env``), for containers that share that folder."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from shared.auth import generate_keypair


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".") / "keys.env"
    if out.exists():
        print(f"{out} exists; keeping it")
        return
    priv, pub = generate_keypair()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"export TOKEN_PRIVATE_KEY={priv}\n"
        f"export TOKEN_PUBLIC_KEY={pub}\n"
        f"export INTERNAL_KEY={secrets.token_urlsafe(32)}\n"
    )
    out.chmod(0o644)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
