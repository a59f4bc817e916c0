"""What identity's handlers need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol, Self


class Hasher(Protocol):
    async def hash(self, secret: str) -> str: ...
    async def verify(self, hashed: str | None, secret: str) -> bool: ...


class Signer(Protocol):
    def mint(
        self,
        *,
        user_id: str,
        account_id: str | None,
        permissions: Any,
        operator: bool = False,
        portal_id: str | None = None,
        email: str | None = None,
        ttl_seconds: int | None = None,
    ) -> tuple[str, int]: ...


class Operators(Protocol):
    async def by_email(self, email: str) -> dict[str, Any] | None: ...
    async def upsert(self, operator_id: str, email: str, password_hash: str) -> None: ...


class Accounts(Protocol):
    async def upsert_facts(self, facts: dict[str, Any]) -> None: ...
    async def get(self, account_id: str) -> dict[str, Any] | None: ...


class UnitOfWork(Protocol):
    operators: Operators
    accounts: Accounts

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def add_event(self, event: object) -> None: ...
    async def commit(self) -> None: ...
