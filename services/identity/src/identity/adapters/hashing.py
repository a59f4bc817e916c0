"""argon2id (OWASP minimum: m=19 MiB, t=2, p=1), always off the event loop, on a
small pool of its own threads: a flood of sign-ins queues for those threads instead
of taking every core (and every default-executor thread) from the rest of the service.

Imported hashes (``assign_credentials`` with ``password_hash``) may also be bcrypt
(``$2a$``/``$2b$``/``$2y$``) or argon2id with other parameters; sign-in verifies
them, and :meth:`Argon2Hasher.needs_rehash` says when to replace one with ours.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16)
# A hash of nothing anyone knows: unknown emails are verified against it so a
# failed sign-in takes the same time whether or not the email exists.
_DUMMY = _hasher.hash("not-a-real-password-for-timing")
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def _check(hashed: str | None, secret: str) -> bool:
    if hashed is not None and hashed.startswith(_BCRYPT_PREFIXES):
        try:
            return bcrypt.checkpw(secret.encode(), hashed.encode())
        except ValueError:  # malformed hash, or a password bcrypt cannot take (> 72 bytes)
            return False
    try:
        return _hasher.verify(hashed or _DUMMY, secret) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


class Argon2Hasher:
    def __init__(self, threads: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="argon2")

    async def hash(self, secret: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(self._pool, _hasher.hash, secret)

    async def verify(self, hashed: str | None, secret: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool, _check, hashed, secret)

    def needs_rehash(self, hashed: str) -> bool:
        """An imported hash (bcrypt, or argon2 with other parameters): replace it with
        ours at the next successful sign-in."""
        if hashed.startswith(_BCRYPT_PREFIXES):
            return True
        try:
            return _hasher.check_needs_rehash(hashed)
        except InvalidHashError:
            return True

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
