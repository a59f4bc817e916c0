"""Tables for people, JSON for scripts. Data goes to stdout; messages, errors and
progress bars go to stderr, so ``--json`` output can be piped as it is."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def out() -> Console:
    return Console(soft_wrap=False, highlight=False)


def err() -> Console:
    return Console(stderr=True, highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def emit(
    data: Any, as_json: bool, columns: Sequence[str] | None = None, title: str | None = None
) -> None:
    """A reply: a page (``items``) or a list as a table of ``columns``, an object as
    field/value rows."""
    if as_json:
        emit_json(data)
        return
    items = data.get("items") if isinstance(data, dict) and "items" in data else data
    if isinstance(items, list):
        cols = list(columns or (sorted(items[0]) if items and isinstance(items[0], dict) else []))
        table = Table(title=title, show_lines=False)
        for c in cols:
            table.add_column(c, overflow="fold")
        for it in items:
            table.add_row(*(_cell(it.get(c)) if isinstance(it, dict) else _cell(it) for c in cols))
        out().print(table)
        nxt = data.get("next_cursor") if isinstance(data, dict) else None
        if nxt:
            err().print(f"More: --cursor {nxt} (or --all)")
        return
    if isinstance(data, dict):
        table = Table(title=title, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for k, v in data.items():
            table.add_row(k, _cell(v))
        out().print(table)
        return
    out().print(_cell(data))


def message(text: str) -> None:
    err().print(text, markup=False)
