"""Identity's hottest statements, sent by asyncpg itself (``driver``): what took
several round trips in one each."""

GET_ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1"
LOCK_ACCOUNT = GET_ACCOUNT + " FOR UPDATE"


def _numbering(lo: str, hi: str, count: str, excluded: str, account: str) -> str:
    """``next_free``'s common table expressions: ``free``, the ``count`` lowest free
    numbers in [lo, hi] but the ``excluded`` ones, from the account's floor (``start``:
    the floor if in the range, else the range's start; every number of the range below
    the floor is taken), the series bounded by how many numbers the account uses from
    there; each candidate one index probe (planned as an anti join, the series' unknown
    length had all the account's extensions hashed: 2 ms at 12,000). ``moved``: the
    floor goes to the first number found free (the range's end if none), or down to a
    digit-only excluded number below that (an excluded one may never be used, so the
    floor stays at or below it). Nothing moves for ``count`` 0.
    The arguments are the statement's parameters (``$n``)."""
    lo, hi, count = f"{lo}::bigint", f"{hi}::bigint", f"{count}::bigint"
    excluded = f"{excluded}::text[]"
    return f"""
s AS (
    SELECT coalesce((SELECT extension_floor FROM accounts
                     WHERE account_id = {account} AND extension_floor BETWEEN {lo} AND {hi}),
                    {lo}) AS start
), free AS (
    SELECT n FROM s, generate_series(
        s.start,
        LEAST({hi}, s.start + {count} + cardinality({excluded}) +
              (SELECT count(*) FROM extensions WHERE account_id = {account}
               AND number >= s.start::text AND number <= {hi}::text
               AND length(number) = length(s.start::text)))
    ) AS n
    WHERE NOT EXISTS (  -- OFFSET 0: one index probe a candidate, never a hash of them all
        SELECT 1 FROM extensions e WHERE e.account_id = {account} AND e.number = n::text
        OFFSET 0
    ) AND NOT (n::text = ANY({excluded}))
    ORDER BY n LIMIT {count}
), top AS (
    SELECT coalesce((SELECT min(n) FROM free), {hi}) AS top
), moved AS (
    UPDATE accounts SET extension_floor = LEAST(top.top, (
        SELECT min(x.v) FROM (
            SELECT CASE WHEN g ~ '^[0-9]{{1,18}}$' THEN g::bigint END AS v
            FROM unnest({excluded}) AS g
        ) AS x WHERE x.v >= s.start AND x.v < top.top))
    FROM s, top WHERE account_id = {account} AND {count} > 0
)"""  # noqa: S608 (only the statement's own parameter markers go in)


#: $1, $2: the range; $3: how many; $4: the account; $5: the excluded numbers
NEXT_FREE = (
    "WITH"  # noqa: S608 (no value goes in)
    + _numbering("$1", "$2", "$3", "$5", "$4::text")
    + " SELECT n::text FROM free ORDER BY n"
)

#: $1: the account; $2, $3, $4: the sites, cost centers and extension numbers asked
#: about; $5: emails to lock; $6, $7, $8: numbering's range and count (the numbers
#: asked about excluded)
REFERENCES = (
    "WITH"  # noqa: S608 (no value goes in)
    + _numbering("$6", "$7", "$8", "$4", "$1::text")
    + """
SELECT
    (SELECT count(*) FROM (
        SELECT pg_advisory_xact_lock(k) FROM (
            SELECT hashtextextended(e, 7) AS k FROM unnest($5::text[]) AS e ORDER BY 1 OFFSET 0
        ) AS s
    ) AS l) AS locked,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
        'id', r.id, 'name', r.name, 'permissions', r.permissions,
        'international_calling', r.international_calling) ORDER BY r.id), '[]'::jsonb)
     FROM roles r WHERE r.account_id = $1) AS roles,
    (SELECT coalesce(jsonb_object_agg(site_id, time_zone), '{}'::jsonb) FROM sites
     WHERE account_id = $1 AND site_id = ANY($2::text[])) AS sites,
    (SELECT coalesce(array_agg(cost_center_id), '{}') FROM cost_centers
     WHERE account_id = $1 AND cost_center_id = ANY($3::text[])) AS cost_centers,
    (SELECT coalesce(array_agg(number), '{}') FROM extensions
     WHERE account_id = $1 AND number = ANY($4::text[])) AS taken,
    (SELECT coalesce(array_agg(n::text ORDER BY n), '{}') FROM free) AS free
"""
)
