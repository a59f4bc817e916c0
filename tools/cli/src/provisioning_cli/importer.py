"""``users import``: any number of CSV rows as 25-entry ``identity.v1.users.add``
requests. A batch the service refuses for some entries is sent again without them;
an entry whose email already belongs to a user of the account is looked up and
reported as ``exists``, so running the same file twice adds nobody twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import AppError

from provisioning_cli.client import Connected
from provisioning_cli.csvmap import Row, chunks
from shared import subjects as s

BATCH = 25  # identity's MAX_USERS_PER_ADD
# Refusals about the caller or the account, not the rows: no point sending more.
STOP_CODES = frozenset({"unauthenticated", "forbidden", "not_found"})


@dataclass
class RowResult:
    row: int
    email: str
    status: str  # added | exists | failed
    user_id: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _is_taken(problem: dict[str, Any]) -> bool:
    return str(problem.get("field", "")).endswith("email") and "already" in str(
        problem.get("message", "")
    )


def _field(path: str) -> str:
    """``users[3].regional.time_zone`` -> ``regional.time_zone``."""
    return re.sub(r"^users\[\d+\]\.?", "", path) or path


class UserImport:
    def __init__(
        self,
        client: Connected,
        account_id: str,
        *,
        acknowledge_charges: bool = False,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.account_id = account_id
        self.acknowledge_charges = acknowledge_charges
        self.on_done = on_done or (lambda n: None)
        self.results: dict[int, RowResult] = {}
        self.aborted: AppError | None = None  # a refusal that holds for every batch

    def _record(self, r: RowResult) -> None:
        self.results[r.row] = r
        self.on_done(1)

    async def run(self, rows: list[Row]) -> list[RowResult]:
        ready = []
        for row in rows:
            if row.error is not None:
                self._record(RowResult(row.line, row.email, "failed", error=row.error))
            else:
                ready.append(row)
        for batch in chunks(ready, BATCH):
            if self.aborted is None:
                await self._batch(batch)
            else:  # the same refusal would come back for every batch: stop sending
                for r in batch:
                    self._record(
                        RowResult(
                            r.line, r.email, "failed", error=f"not sent ({self.aborted.code})"
                        )
                    )
        return [self.results[r.line] for r in rows]

    async def _batch(self, batch: list[Row]) -> None:
        while batch:
            payload: dict[str, Any] = {
                "account_id": self.account_id,
                "users": [r.entry for r in batch],
            }
            if self.acknowledge_charges:
                payload["acknowledge_charges"] = True
            try:
                reply = await self.client.call(s.USERS_ADD, payload, timeout=60.0)
            except AppError as err:
                problems = (err.details or {}).get("errors") or []
                by_index: dict[int, list[dict[str, Any]]] = {}
                for p in problems:
                    if isinstance(p, dict) and isinstance(p.get("index"), int):
                        by_index.setdefault(p["index"], []).append(p)
                if err.code in STOP_CODES:
                    self.aborted = err
                if err.code != "validation_failed" or not by_index:
                    for r in batch:  # the whole request was refused: every row says why
                        self._record(
                            RowResult(r.line, r.email, "failed", error=f"{err.code}: {err.message}")
                        )
                    return
                for idx, found in by_index.items():
                    if 0 <= idx < len(batch):
                        await self._refused(batch[idx], found)
                batch = [r for i, r in enumerate(batch) if i not in by_index]
                continue
            for r, user in zip(batch, reply.get("users", []), strict=False):
                self._record(RowResult(r.line, r.email, "added", user_id=user.get("id")))
            return

    async def _refused(self, row: Row, problems: list[dict[str, Any]]) -> None:
        if all(_is_taken(p) for p in problems):
            existing = await self._find(row.email)
            if existing is not None:
                self._record(RowResult(row.line, row.email, "exists", user_id=existing))
                return
        text = "; ".join(
            f"{_field(str(p.get('field', '')))}: {p.get('message', '')}" for p in problems
        )
        self._record(RowResult(row.line, row.email, "failed", error=f"validation_failed: {text}"))

    async def _find(self, email: str) -> str | None:
        """The id of this account's user with that email, if there is one."""
        page = await self.client.call(
            s.USERS_LIST, {"account_id": self.account_id, "query": email, "limit": 50}
        )
        for u in page.get("items", []):
            if str(u.get("email", "")).lower() == email.lower():
                return str(u["id"])
        return None
