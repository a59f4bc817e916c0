"""Outside JSON, parsed within bounds: every request and every ingested message.

A body larger than :data:`MAX_BODY_BYTES`, nested deeper than :data:`MAX_DEPTH`
(objects and arrays), or holding a NUL character in any string (key or value) is
``validation_failed`` here, once, before any model sees it: PostgreSQL cannot store
NUL in text, and deep nesting exhausts the recursion of every later step
(validation, JSONB, logging). The checks cost almost nothing on ordinary bodies:
the depth walk only runs when the body has more brackets than the depth bound,
the NUL walk only when the raw body contains the escape ``\\u0000``.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import ValidationFailed, field_error

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
_NUL_ESCAPE = b"\\u0000"


def _path(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + p
    return (out or "body")[:200]


def find_problem(
    value: Any, *, max_depth: int = MAX_DEPTH, check_nul: bool = True
) -> tuple[str, str] | None:
    """The first (field path, problem) of a decoded JSON value: nesting deeper than
    ``max_depth`` or a string holding NUL; None when it is clean. Iterative, so a
    deep value cannot exhaust the recursion limit here."""
    stack: list[tuple[Any, int, list[str | int]]] = [(value, 0, [])]
    while stack:
        v, depth, path = stack.pop()
        if isinstance(v, dict):
            if depth + 1 > max_depth:
                return _path(path), f"is nested deeper than {max_depth} levels"
            for k, item in v.items():
                if check_nul and "\x00" in k:
                    return _path(path), "a key holds a NUL character"
                stack.append((item, depth + 1, [*path, k]))
        elif isinstance(v, list):
            if depth + 1 > max_depth:
                return _path(path), f"is nested deeper than {max_depth} levels"
            for i, item in enumerate(v):
                stack.append((item, depth + 1, [*path, i]))
        elif check_nul and isinstance(v, str) and "\x00" in v:
            return _path(path), "must not contain a NUL character"
    return None


def parse_object(
    data: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """Decode a JSON object body (empty body: ``{}``) within the bounds, or raise
    ``validation_failed``."""
    if not data:
        return {}
    if len(data) > max_bytes:
        raise ValidationFailed.single("body", f"The request body is larger than {max_bytes} bytes.")
    try:
        raw = json.loads(data)
    except RecursionError as exc:
        raise ValidationFailed(
            "The request body is nested too deeply.",
            [field_error("body", f"is nested deeper than {max_depth} levels")],
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The request body is not valid JSON.",
            [field_error("body", f"invalid JSON: {exc}")],
        ) from exc
    if not isinstance(raw, dict):
        raise ValidationFailed.single("body", "The request body must be a JSON object.")
    deep = data.count(b"{") + data.count(b"[") > max_depth
    nul = _NUL_ESCAPE in data
    if deep or nul:
        problem = find_problem(raw, max_depth=max_depth if deep else 1 << 30, check_nul=nul)
        if problem is not None:
            raise ValidationFailed(f"The field {problem[0]} {problem[1]}.", [field_error(*problem)])
    return raw
