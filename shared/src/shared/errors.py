"""Application errors and their stable wire codes.

Every failure that leaves a service is one of these codes, in the body
``{"error": {"code", "message", "details"}}`` and in the headers
``Nats-Service-Error-Code`` / ``Nats-Service-Error`` (as NATS's own service
framework does).
"""

from __future__ import annotations

from typing import Any

STATUS_BY_CODE: dict[str, int] = {
    "validation_failed": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "limit_exceeded": 422,
    "internal": 500,
    "unavailable": 503,
}


def field_error(
    field: str, message: str, *, index: int | None = None, **extra: Any
) -> dict[str, Any]:
    """One entry of ``details.errors``: the field path, a message, the bulk entry index."""
    err: dict[str, Any] = {"field": field, "message": message}
    if index is not None:
        err["index"] = index
    err.update(extra)
    return err


class AppError(Exception):
    code = "internal"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(AppError):
    code = "validation_failed"

    def __init__(
        self,
        message: str = "The request is not valid.",
        errors: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        d = dict(details or {})
        if errors is not None:
            d["errors"] = errors
        super().__init__(message, d)

    @classmethod
    def single(cls, field: str, message: str, *, index: int | None = None) -> ValidationFailed:
        return cls(message, [field_error(field, message, index=index)])


class Unauthenticated(AppError):
    code = "unauthenticated"


class Forbidden(AppError):
    code = "forbidden"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class LimitExceeded(AppError):
    code = "limit_exceeded"


class Internal(AppError):
    code = "internal"


class Unavailable(AppError):
    """A dependency (another service, the broker) did not answer in time."""

    code = "unavailable"


ERROR_CLASSES: dict[str, type[AppError]] = {
    c.code: c
    for c in (
        ValidationFailed,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        LimitExceeded,
        Internal,
        Unavailable,
    )
}


def error_from_body(body: dict[str, Any]) -> AppError:
    """Rebuild an AppError from an error reply (for service-to-service calls)."""
    err = body.get("error") or {}
    cls = ERROR_CLASSES.get(str(err.get("code")), Internal)
    exc = cls.__new__(cls)
    AppError.__init__(exc, str(err.get("message", "")), err.get("details") or {})
    return exc
