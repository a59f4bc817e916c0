"""Session tokens: identity signs them (Ed25519), every service verifies them.

A token names one account, the user and the user's permissions. Operator
tokens (platform staff) carry ``op`` and no account: they may act on any
account. Services only ever hold the public key, so no service but identity
can mint a session.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared.errors import Forbidden, Unauthenticated

ISSUER = "identity"
ALGORITHM = "EdDSA"


class Perm:
    """Permission names carried in tokens and checked by every service."""

    ACCOUNT_READ = "account.read"
    ACCOUNT_MANAGE = "account.manage"
    INVENTORY_PURCHASE = "inventory.purchase"
    PORTALS_MANAGE = "portals.manage"
    USERS_READ = "users.read"
    USERS_MANAGE = "users.manage"
    ROLES_MANAGE = "roles.manage"
    INVITES_MANAGE = "invites.manage"
    ENGAGE_READ = "engage.read"
    ENGAGE_MANAGE = "engage.manage"
    SELF = "self"

    ALL: tuple[str, ...] = (
        ACCOUNT_READ,
        ACCOUNT_MANAGE,
        INVENTORY_PURCHASE,
        PORTALS_MANAGE,
        USERS_READ,
        USERS_MANAGE,
        ROLES_MANAGE,
        INVITES_MANAGE,
        ENGAGE_READ,
        ENGAGE_MANAGE,
        SELF,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_keypair() -> tuple[str, str]:
    """A new (private, public) pair as base64url raw Ed25519 keys."""
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(priv), _b64(pub)


@dataclass(frozen=True)
class Principal:
    """Who is calling: from a verified token."""

    user_id: str
    account_id: str | None
    permissions: frozenset[str] = field(default_factory=frozenset)
    operator: bool = False
    portal_id: str | None = None
    token_id: str = ""
    email: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    issued_at_ms: int = 0
    user_version: int | None = None
    password_change_only: bool = False

    def can_access(self, account_id: str) -> bool:
        return self.operator or self.account_id == account_id

    def require_account(self, account_id: str) -> None:
        """A command naming another account is ``forbidden`` and reveals nothing about it."""
        if not self.can_access(account_id):
            raise Forbidden("This session may not act on that account.")

    def require(self, permission: str, account_id: str | None = None) -> None:
        if account_id is not None:
            self.require_account(account_id)
        if self.operator:
            return
        if permission not in self.permissions:
            raise Forbidden(f"Missing permission '{permission}'.", {"permission": permission})

    def require_operator(self) -> None:
        if not self.operator:
            raise Forbidden("Only platform operators may do this.")


#: all a temporary-password session may do (DOMAIN.md: it may only change the password)
PASSWORD_CHANGE_SUBJECTS = frozenset(
    {"identity.v1.auth.change_password", "identity.v1.auth.logout"}
)
MUST_CHANGE_PASSWORD = (
    "This session was opened with a temporary password: change the password first "
    "(identity.v1.auth.change_password), then sign in again."
)

AnyHandler = Callable[[Any, "Principal | None"], Awaitable[Any]]


def full_sessions_only(handler: AnyHandler) -> AnyHandler:
    """Wrap an endpoint so that a temporary-password session is ``forbidden``."""

    async def guarded(cmd: Any, principal: Principal | None) -> Any:
        if principal is not None and principal.password_change_only:
            raise Forbidden(MUST_CHANGE_PASSWORD, {"reason": "must_change_password"})
        return await handler(cmd, principal)

    return guarded


class RevocationCheck(Protocol):
    """What :class:`TokenVerifier` asks after the signature: raises ``Unauthenticated``
    when the session was revoked, or when revocations cannot be known right now."""

    def check(self, principal: Principal) -> None: ...


class TokenVerifier:
    def __init__(self, public_key: str, revocations: RevocationCheck | None = None) -> None:
        if not public_key:
            raise ValueError("TOKEN_PUBLIC_KEY is not set")
        self._key = Ed25519PublicKey.from_public_bytes(_unb64(public_key))
        # token -> (principal, expiry): a signature is checked once per token, not per request
        self._cache: dict[str, tuple[Principal, float]] = {}
        # None only for tools and unit tests; every service passes its revocation watcher
        self.revocations = revocations

    def verify(self, token: str) -> Principal:
        principal = self._signed(token)
        if self.revocations is not None:
            # after the signature, on every request: a cached token is checked too
            self.revocations.check(principal)
        return principal

    def _signed(self, token: str) -> Principal:
        hit = self._cache.get(token)
        if hit is not None:
            if hit[1] > time.time():
                return hit[0]
            del self._cache[token]
        principal, exp = self._verify(token)
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[token] = (principal, exp)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The session has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The session token is not valid.") from exc
        principal = Principal(
            user_id=str(claims["sub"]),
            account_id=claims.get("acc"),
            permissions=frozenset(claims.get("perms", [])),
            operator=bool(claims.get("op", False)),
            portal_id=claims.get("portal"),
            token_id=str(claims["jti"]),
            email=claims.get("email"),
            issued_at_ms=int(claims.get("iat_ms") or int(claims["iat"]) * 1000),
            user_version=int(claims["uv"]) if claims.get("uv") is not None else None,
            password_change_only=bool(claims.get("pwchange", False)),
        )
        return principal, float(claims["exp"])

    def from_headers(self, headers: dict[str, str] | None) -> Principal:
        raw = ""
        for k, v in (headers or {}).items():
            if k.lower() == "authorization":
                raw = v
                break
        if not raw:
            raise Unauthenticated("Missing 'Authorization: Bearer <token>' header.")
        scheme, _, token = raw.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
        return self.verify(token.strip())


class TokenSigner:
    def __init__(self, private_key: str, ttl_seconds: int = 8 * 3600) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_unb64(private_key))
        self.ttl_seconds = ttl_seconds

    def mint(
        self,
        *,
        user_id: str,
        account_id: str | None,
        permissions: Iterable[str],
        operator: bool = False,
        portal_id: str | None = None,
        email: str | None = None,
        ttl_seconds: int | None = None,
        user_version: int | None = None,
        password_change_only: bool = False,
    ) -> tuple[str, int]:
        """Return (token, expires_at epoch seconds).

        ``iat_ms`` (issue time in milliseconds) and ``uv`` (the user's row version when
        the session was opened) are what revocations compare against; ``pwchange``
        marks a temporary-password session that may only change the password."""
        now_ms = time.time_ns() // 1_000_000
        now = now_ms // 1000
        exp = now + (ttl_seconds or self.ttl_seconds)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": user_id,
            "acc": account_id,
            "perms": sorted(set(permissions)),
            "op": operator,
            "iat": now,
            "iat_ms": now_ms,
            "exp": exp,
            "jti": uuid.uuid4().hex,
        }
        if user_version is not None:
            claims["uv"] = user_version
        if password_change_only:
            claims["pwchange"] = True
        if portal_id:
            claims["portal"] = portal_id
        if email:
            claims["email"] = email
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), exp


def service_token(signer_key: str, service: str, ttl_seconds: int = 300) -> str:
    """An operator-scoped token one service may use to call another (identity only)."""
    token, _ = TokenSigner(signer_key).mint(
        user_id=f"service:{service}",
        account_id=None,
        permissions=Perm.ALL,
        operator=True,
        ttl_seconds=ttl_seconds,
    )
    return token
