"""Redaction of secrets in what is kept or shown after the fact (dead letters).

A secret field (``password``, ``pin``, ``security_answer``, ``password_hash``,
``token`` and their variants such as ``temporary_password`` or ``new_password``)
keeps its key but loses its value; the ``Authorization`` header is dropped; in a
free text (an error message) every secret value found in the payload, and every
``key=value`` / ``"key": "value"`` pair of a secret key, is masked.
"""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"

SECRET_KEYS = frozenset(
    {
        "password",
        "pin",
        "security_answer",
        "password_hash",
        "pin_hash",
        "security_answer_hash",
        "token",
        "authorization",
        "secret",
        "private_key",
        "internal_key",
    }
)
_SECRET_SUFFIXES = ("_password", "_pin", "_token", "_secret", "_answer", "_hash")
_SECRET_HEADERS = frozenset({"authorization", "x-internal-key"})


def is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in SECRET_KEYS or k.endswith(_SECRET_SUFFIXES)


def redact_data(value: Any, found: list[str] | None = None) -> Any:
    """A copy of ``value`` with every secret field's value masked; the masked
    values are appended to ``found`` (to mask them in free text too)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and is_secret_key(k) and v is not None:
                if found is not None:
                    _collect(v, found)
                out[k] = MASK
            else:
                out[k] = redact_data(v, found)
        return out
    if isinstance(value, list):
        return [redact_data(v, found) for v in value]
    return value


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for v in value.values():
            _collect(v, found)
    elif isinstance(value, list):
        for v in value:
            _collect(v, found)
    elif value is not None and not isinstance(value, bool):
        s = str(value)
        if len(s) >= 3:  # masking "1" everywhere would only garble the text
            found.append(s)


_KEYS = r"[A-Za-z_\-]*(?:password|pin|answer|token|secret|hash|authorization)"
_PAIR = re.compile(
    rf"""(?ix)
    (["']?\b{_KEYS}\b["']?\s*[:=]\s*)   # key and separator
    (?:"[^"]*"|'[^']*'|[^\s,;}}\)\]]+)  # the value
    """
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-_\.=+/]+")


def redact_text(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with the given secret values and every secret ``key=value`` masked."""
    for s in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(s, MASK)
    text = _BEARER.sub(lambda m: m.group(1) + " " + MASK, text)
    return _PAIR.sub(lambda m: m.group(1) + MASK, text)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


def redact_payload(raw: bytes) -> tuple[bytes, list[str]]:
    """The payload to keep: JSON with secret fields masked (and the values masked),
    or, when it is not JSON, the text with secret pairs masked."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        text = raw.decode("utf-8", errors="replace")
        return redact_text(text).encode(), []
    found: list[str] = []
    clean = redact_data(data, found)
    return json.dumps(clean).encode(), found
