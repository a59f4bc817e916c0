"""Event data the unit tests build events from."""

from __future__ import annotations

from typing import Any


def user_snapshot(**over: Any) -> dict[str, Any]:
    """The data of a ``user.updated`` event that matches its contract."""
    return {
        "user_id": "usr_1",
        "account_id": "acc_1",
        "extension_id": "ext_1",
        "extension_number": "101",
        "status": "Enabled",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "user_type": "standard",
        "role": "user",
        "regional": {},
        "needs_emergency_location": False,
        "must_change_password": False,
        "version": 2,
    } | over
