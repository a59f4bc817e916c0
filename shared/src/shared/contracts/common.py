"""Base models and paging shared by every service's contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

MAX_PAGE = 500

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be a timezone-aware UTC date-time")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware_utc)]


class Command(BaseModel):
    """A request from outside: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Model(BaseModel):
    """A reply or an event payload."""

    model_config = ConfigDict(extra="ignore")


class PageRequest(Command):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=512)


class Page(Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ErrorBody(Model):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorReply(Model):
    error: ErrorBody


class Empty(Command):
    pass


class Health(Model):
    service: str
    version: str
    status: str
    database: str
    broker: str
    details: dict[str, Any] = Field(default_factory=dict)


class Ok(Model):
    ok: bool = True
