"""CSV rows -> ``identity.v1.users.add`` user entries (CONTRACT.md "A user entry").

One row per user; the header names the columns (any order, case-insensitive). Empty
cells are left out. Columns:

- the entry's plain fields: ``first_name``, ``last_name``, ``email``, ``user_type``,
  ``extension_number``, ``site_id``, ``cost_center_id``, ``contact_phone``,
  ``mobile_phone``, ``job_title``, ``department``, ``role``, ``call_recording``;
- ``regional``: ``language``, ``greeting_language``, ``regional_format``, ``time_zone``;
- the setup option: ``setup`` (``send_invite``, ``schedule_invite``, ``assign_credentials``,
  ``activate_later``; default given by ``--setup``), with ``send_at`` and
  ``invite_time_zone`` for ``schedule_invite`` and ``password``, ``temporary_password``,
  ``pin``, ``security_question``, ``security_answer`` for ``assign_credentials``;
- nested objects as JSON text: ``emergency_location``, ``shipping_address``, ``phone``,
  ``phone_number`` (and ``regional`` / ``setup`` as a whole, if preferred).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

PLAIN = (
    "first_name",
    "last_name",
    "email",
    "user_type",
    "extension_number",
    "site_id",
    "cost_center_id",
    "contact_phone",
    "mobile_phone",
    "job_title",
    "department",
    "role",
    "call_recording",
)
REGIONAL = ("language", "greeting_language", "regional_format", "time_zone")
JSON_OBJECTS = ("emergency_location", "shipping_address", "phone", "phone_number")
SETUP_FIELDS = {
    "send_at": "send_at",
    "invite_time_zone": "time_zone",
    "password": "password",
    "temporary_password": "temporary_password",
    "pin": "pin",
    "security_question": "security_question",
    "security_answer": "security_answer",
}
SETUP_OPTIONS = ("send_invite", "schedule_invite", "assign_credentials", "activate_later")
COLUMNS = (*PLAIN, *REGIONAL, *JSON_OBJECTS, "regional", "setup", *SETUP_FIELDS)
RESULT_COLUMNS = ("row", "email", "status", "user_id", "error")


class CsvError(ValueError):
    """The file as a whole cannot be read (no header, unknown columns)."""


@dataclass
class Row:
    """One data row: its line number in the file, the entry, or why it cannot be sent."""

    line: int
    email: str
    entry: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{name}: must be a JSON object")
    return value


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "y"):
        return True
    if low in ("0", "false", "no", "n"):
        return False
    raise ValueError(f"temporary_password: {text!r} is not true/false")


def row_to_entry(cells: dict[str, str], default_setup: str = "send_invite") -> dict[str, Any]:
    """One CSV row (column -> cell) as a user entry; ValueError when a cell is unusable."""
    cells = {k: v.strip() for k, v in cells.items() if k and v is not None and v.strip()}
    entry: dict[str, Any] = {k: cells[k] for k in PLAIN if k in cells}
    regional = _json_object("regional", cells["regional"]) if "regional" in cells else {}
    regional |= {k: cells[k] for k in REGIONAL if k in cells}
    if regional:
        entry["regional"] = regional
    for name in JSON_OBJECTS:
        if name in cells:
            entry[name] = _json_object(name, cells[name])
    setup_text = cells.get("setup", default_setup)
    if setup_text.startswith("{"):
        setup = _json_object("setup", setup_text)
    else:
        if setup_text not in SETUP_OPTIONS:
            raise ValueError(f"setup: {setup_text!r} is not one of {', '.join(SETUP_OPTIONS)}")
        setup = {"option": setup_text}
    for column, key in SETUP_FIELDS.items():
        if column in cells:
            setup[key] = _bool(cells[column]) if column == "temporary_password" else cells[column]
    entry["setup"] = setup
    return entry


def read_rows(f: TextIO, default_setup: str = "send_invite") -> list[Row]:
    reader = csv.DictReader(f)
    if not reader.fieldnames:
        raise CsvError("The file has no header row.")
    names = [(n or "").strip().lower() for n in reader.fieldnames]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise CsvError(f"Unknown column(s): {', '.join(unknown)}. Known: {', '.join(COLUMNS)}.")
    reader.fieldnames = names
    rows: list[Row] = []
    for cells in reader:
        line = reader.line_num
        email = (cells.get("email") or "").strip()
        try:
            rows.append(Row(line, email, row_to_entry(cells, default_setup)))
        except ValueError as exc:
            rows.append(Row(line, email, error=str(exc)))
    return rows


def chunks(items: list[Row], size: int) -> Iterator[list[Row]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def write_results(f: TextIO, results: Iterable[dict[str, Any]]) -> None:
    w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in results:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in RESULT_COLUMNS})
