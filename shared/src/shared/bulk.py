"""Set-based inserts whose statement is the same for every batch.

A multi-row ``INSERT … VALUES (…), (…)`` built from a list of rows is a new statement
for every batch: SQLAlchemy compiles it again each time (it cannot be cached), and
under ``users_add`` that compiling was about half of each projection's CPU. Here a
batch of any size is one array parameter a column, zipped by ``unnest``::

    INSERT INTO t (a, b) SELECT a, b FROM unnest(:each_a, :each_b) AS u(a, b)

so the statement is built once (at import), compiled once, and each batch is only its
parameters (:func:`unnest_params`). JSON columns travel as text and are cast.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, Insert, insert


def _is_json(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, JSON | JSONB | sa.JSON)


def unnest_insert(table: sa.Table, columns: Sequence[str]) -> Insert:
    """``INSERT INTO table (columns) SELECT … FROM unnest(…)``: PostgreSQL's ``insert``,
    so ``on_conflict_do_*`` and ``returning`` chain on as usual. Bind it with
    :func:`unnest_params` of the same table and columns."""
    arrays = [
        sa.bindparam(f"each_{c}", type_=ARRAY(sa.Text if _is_json(table.c[c]) else table.c[c].type))
        for c in columns
    ]
    rows = sa.func.unnest(*arrays).table_valued(*columns).render_derived()
    picked = [
        sa.cast(rows.c[c], table.c[c].type) if _is_json(table.c[c]) else rows.c[c] for c in columns
    ]
    return insert(table).from_select(list(columns), sa.select(*picked))


def unnest_params(
    table: sa.Table, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The parameters of :func:`unnest_insert`: one list a column (a column missing
    from a row is NULL; in a JSON column, JSON ``null``)."""
    rows = list(rows)
    params: dict[str, list[Any]] = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        if _is_json(table.c[c]):
            values = [json.dumps(v) for v in values]  # None is JSON null, as SQLAlchemy's
        params[f"each_{c}"] = values
    return params
