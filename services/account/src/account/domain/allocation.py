"""An allocation: what one ``inventory.allocate`` request took, kept under the caller's
request id so a retry gets the same answer and a release gives exactly that back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.errors import Conflict

PENDING, ALLOCATED, RELEASED = "pending", "allocated", "released"


@dataclass
class Allocation:
    request_id: str
    account_id: str
    status: str
    licenses: dict[str, int] = field(default_factory=dict)
    """Licenses taken per user type (given back on release)."""
    reply: dict[str, Any] | None = None
    """The reply the allocation gave (None: never allocated)."""

    @property
    def released(self) -> bool:
        return self.status == RELEASED

    @property
    def was_allocated(self) -> bool:
        """It took something (a tombstone left by an early release did not)."""
        return self.reply is not None

    def replay_for(self, account_id: str) -> dict[str, Any]:
        """The stored reply for a retry of the same request; a request id reused for
        another account, or one whose allocation was refused by an earlier release, is
        a conflict."""
        if self.account_id != account_id:
            raise Conflict(
                "That request id belongs to another request.", {"request_id": self.request_id}
            )
        if self.reply is None:
            raise Conflict("That allocation was already released.", {"request_id": self.request_id})
        return self.reply
