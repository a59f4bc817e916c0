"""Identity's hottest statements, sent by asyncpg itself (``driver``): what took
several round trips in one each."""

GET_ACCOUNT = "SELECT * FROM accounts WHERE account_id = $1"
LOCK_ACCOUNT = GET_ACCOUNT + " FOR UPDATE"

REFERENCES = """
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
     WHERE account_id = $1 AND number = ANY($4::text[])) AS taken
"""


#: ``next_free`` in one statement. $1, $2: the range; $3: how many; $4: how many
#: excluded; $5: the account; $6: the excluded numbers. ``start``: the account's floor
#: if in the range, else the range's start. The floor moves to the first number found
#: free (the range's end if none), or down to a digit-only excluded number below that
#: (an excluded one may never be used, so the floor stays at or below it).
NEXT_FREE = """
WITH s AS (
    SELECT coalesce((SELECT extension_floor FROM accounts
                     WHERE account_id = $5 AND extension_floor BETWEEN $1 AND $2), $1) AS start
), free AS (
    SELECT n FROM s, generate_series(
        s.start,
        LEAST($2::bigint, s.start + $3::bigint + $4::bigint +
              (SELECT count(*) FROM extensions WHERE account_id = $5
               AND number >= s.start::text AND number <= $2::bigint::text
               AND length(number) = length(s.start::text)))
    ) AS n
    WHERE NOT EXISTS (
        SELECT 1 FROM extensions e WHERE e.account_id = $5 AND e.number = n::text
    ) AND NOT (n::text = ANY($6::text[]))
    ORDER BY n LIMIT $3
), top AS (
    SELECT coalesce((SELECT min(n) FROM free), $2::bigint) AS top
), moved AS (
    UPDATE accounts SET extension_floor = LEAST(top.top, (
        SELECT min(x.v) FROM (
            SELECT CASE WHEN g ~ '^[0-9]{1,18}$' THEN g::bigint END AS v
            FROM unnest($6::text[]) AS g
        ) AS x WHERE x.v >= s.start AND x.v < top.top))
    FROM s, top WHERE account_id = $5
)
SELECT n::text FROM free ORDER BY n
"""
