"""Where the CLI connects and who it is: the connection settings (environment,
else ``.devstack/env``) and the session token cache (user config directory, 0600)."""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

DEFAULT_ENV_FILE = Path(".devstack") / "env"
CONFIG_DIR_VAR = "PROVISIONING_CONFIG_DIR"
# The names CONTRACT.md "Connecting" documents (and `make run` writes).
CONNECTION_VARS = (
    "NATS_URL",
    "NATS_CREDS",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_INBOX_PREFIX",
    "OPERATOR_EMAIL",
    "OPERATOR_PASSWORD",
    # the read-only event watching user (`events tail`; docs/security.md "observer")
    "OBSERVER_NATS_USER",
    "OBSERVER_NATS_PASSWORD",
    "OBSERVER_NATS_CREDS",
    "OBSERVER_NATS_INBOX_PREFIX",
)
OBSERVER_PREFIX = "OBSERVER_"
# A cached token this close to its expiry is treated as expired.
EXPIRY_MARGIN_SECONDS = 60


def parse_env_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines as a shell would read them: ``export`` prefixes, single or
    double quotes, comments and blank lines; a line that is not an assignment is skipped."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            continue
        value = value.strip()
        try:
            parts = shlex.split(value, comments=True, posix=True)
        except ValueError:  # unbalanced quote: take the text as it is
            parts = [value]
        out[name] = " ".join(parts)
    return out


def load_env(env_file: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection variables: the process environment wins, then the env file
    (``--env-file``, else ``.devstack/env`` in the current directory when it exists
    and names the same ``NATS_URL`` as the environment, if the environment names one)."""
    environ = os.environ if environ is None else environ
    path = env_file if env_file is not None else DEFAULT_ENV_FILE
    from_file: dict[str, str] = {}
    if env_file is not None or path.is_file():
        from_file = parse_env_file(path.read_text(encoding="utf-8"))
    own_url, file_url = environ.get("NATS_URL"), from_file.get("NATS_URL")
    if env_file is None and own_url and file_url and own_url != file_url:
        # ./.devstack/env describes another stack than the NATS_URL given: none of
        # its credentials (the observer's, say) belong to this server
        from_file = {}
    merged = dict(from_file)
    for name in CONNECTION_VARS:
        if environ.get(name):
            merged[name] = environ[name]
    return merged


@dataclass(frozen=True)
class Connection:
    url: str
    user: str | None = None
    password: str | None = None
    creds: str | None = None
    inbox_prefix: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], prefix: str = "") -> Connection:
        """The client's connection, or with ``prefix`` (``OBSERVER_``) another NATS
        user's on the same server."""
        return cls(
            url=env.get("NATS_URL") or "nats://127.0.0.1:4222",
            user=env.get(f"{prefix}NATS_USER") or None,
            password=env.get(f"{prefix}NATS_PASSWORD") or None,
            creds=env.get(f"{prefix}NATS_CREDS") or None,
            inbox_prefix=env.get(f"{prefix}NATS_INBOX_PREFIX") or None,
        )

    @classmethod
    def observer_from_env(cls, env: Mapping[str, str]) -> Connection | None:
        """The observer's connection (``OBSERVER_NATS_*``), when its credentials are set."""
        if env.get(f"{OBSERVER_PREFIX}NATS_USER") or env.get(f"{OBSERVER_PREFIX}NATS_CREDS"):
            return cls.from_env(env, OBSERVER_PREFIX)
        return None


def config_dir() -> Path:
    override = os.environ.get(CONFIG_DIR_VAR)
    return Path(override) if override else Path(platformdirs.user_config_dir("provisioning"))


@dataclass
class CachedSession:
    token: str
    expires_at: str
    email: str
    account_id: str | None = None
    operator: bool = False

    def expires_epoch(self) -> float:
        try:
            return datetime.fromisoformat(self.expires_at).timestamp()
        except ValueError:
            return 0.0

    def expired(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.expires_epoch() - EXPIRY_MARGIN_SECONDS <= now


class TokenStore:
    """Session tokens by NATS URL in ``<config dir>/sessions.json``, mode 0600."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or config_dir()) / "sessions.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sessions-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, url: str) -> CachedSession | None:
        entry = self._read().get(url)
        if not isinstance(entry, dict):
            return None
        try:
            return CachedSession(**entry)
        except TypeError:
            return None

    def put(self, url: str, session: CachedSession) -> None:
        data = self._read()
        data[url] = session.__dict__.copy()
        self._write(data)

    def remove(self, url: str) -> bool:
        data = self._read()
        if url not in data:
            return False
        del data[url]
        self._write(data)
        return True
