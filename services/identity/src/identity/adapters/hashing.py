"""argon2id (OWASP minimum: m=19 MiB, t=2, p=1), always off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
# A hash of nothing anyone knows: unknown emails are verified against it so a
# failed sign-in takes the same time whether or not the email exists.
_DUMMY = _hasher.hash("not-a-real-password-for-timing")


class Argon2Hasher:
    async def hash(self, secret: str) -> str:
        return await asyncio.to_thread(_hasher.hash, secret)

    async def verify(self, hashed: str | None, secret: str) -> bool:
        def check() -> bool:
            try:
                return _hasher.verify(hashed or _DUMMY, secret) and hashed is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)
