"""Transient faults (the environment's: retry later) versus permanent ones (the
input's: retrying changes nothing). Consumers retry the first kind for ever; the
request/reply layer answers them ``unavailable`` so a calling consumer retries too."""

from __future__ import annotations

import asyncpg
import nats.errors

from shared.errors import Unavailable


class Transient(Exception):
    """A dependency is not ready yet: retry later, for as long as it takes."""


class Permanent(Exception):
    """Retrying can never help (the consumer's ``Poison`` is one)."""


def is_transient(exc: BaseException) -> bool:
    """The failure is the environment's, not the input's: the database or the broker
    unreachable or restarting (or answering without the service's database, its
    credentials, or writes), a timeout, a called service unavailable."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, Permanent):
            return False
        if isinstance(
            cur,
            Transient
            | Unavailable
            | OSError
            | TimeoutError
            | sa_exc.OperationalError
            | sa_exc.InterfaceError
            | sa_exc.TimeoutError
            | sa_exc.DisconnectionError
            | asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            | asyncpg.CannotConnectNowError
            | asyncpg.TooManyConnectionsError
            | asyncpg.SerializationError
            | asyncpg.DeadlockDetectedError
            | asyncpg.AdminShutdownError
            # the server answers, but not as the service's database (not yet: a
            # failover, a restore, credentials being rotated): never the message's fault
            | asyncpg.InvalidCatalogNameError
            | asyncpg.InvalidAuthorizationSpecificationError
            | asyncpg.ReadOnlySQLTransactionError
            | nats.errors.TimeoutError
            | nats.errors.NoRespondersError
            | nats.errors.ConnectionClosedError,
        ):
            return True
        if isinstance(cur, sa_exc.DBAPIError) and cur.connection_invalidated:
            return True
        cur = cur.__cause__ or cur.__context__
    return False
