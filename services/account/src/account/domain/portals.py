"""Multi-account portals (DOMAIN.md section 2): link codes and service status."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

LINK_CODE_TTL = timedelta(minutes=15)


def new_link_code() -> str:
    return secrets.token_urlsafe(24)


def hash_link_code(code: str) -> str:
    """Link codes are 192-bit random: a plain SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


PENDING_INVITE_STATUSES: frozenset[str] = frozenset({"Scheduled", "Sent"})


def service_status(status: str, users: int, pending_invites: int) -> str:
    """One word for the portal overview, from what the account service knows."""
    if status == "Closed":
        return "closed"
    if status == "Suspended":
        return "suspended"
    if users == 0:
        return "not_set_up"
    if pending_invites > 0:
        return "onboarding"
    return "operational"


@dataclass(frozen=True, slots=True)
class Portal:
    """Many accounts gathered by one administrator (DOMAIN.md section 2): it belongs to
    the user who created it."""

    id: str
    name: str
    owner_user_id: str
    owner_account_id: str | None = None
    created_at: datetime | None = None

    def visible_to(self, user_id: str, *, operator: bool = False) -> bool:
        """Only its owner (or an operator) sees it; to anyone else it does not exist."""
        return operator or self.owner_user_id == user_id
