-- Hourly rollup of minute_aggregates, computed when read so it is exact as soon as the minutes are.
-- Written for ClickHouse 18.16 and current releases alike: 18.16 has no sumMap over String keys
-- and one JOIN per SELECT, so the key arrays are exploded with ARRAY JOIN, summed per key,
-- regrouped sorted by key (arraySort of (key, count) tuples: keys are unique per group, so the
-- order is by key bytes) and joined in two steps. Current releases require an alias on every
-- joined subquery. ALL LEFT JOIN: standard semantics and the same in every version (ANY changed
-- meaning over the years); the right side has one row per (customer_id, period) by its GROUP BY,
-- so nothing is multiplied, and a period without keys gets empty arrays.
CREATE VIEW IF NOT EXISTS {{database}}.hourly_aggregates AS
SELECT customer_id, period AS window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts
FROM
(
    SELECT customer_id, period, total_requests, path_keys, path_counts
    FROM
    (
        SELECT customer_id, toStartOfHour(window_start) AS period, sum(total_requests) AS total_requests
        FROM {{database}}.minute_aggregates
        GROUP BY customer_id, period
    ) AS totals
    ALL LEFT JOIN
    (
        SELECT
            customer_id,
            period,
            arrayMap(t -> tupleElement(t, 1), arraySort(groupArray((key, n)))) AS path_keys,
            arrayMap(t -> tupleElement(t, 2), arraySort(groupArray((key, n)))) AS path_counts
        FROM
        (
            SELECT customer_id, toStartOfHour(window_start) AS period, key, sum(cnt) AS n
            FROM {{database}}.minute_aggregates
            ARRAY JOIN path_keys AS key, path_counts AS cnt
            GROUP BY customer_id, period, key
        )
        GROUP BY customer_id, period
    ) AS paths USING (customer_id, period)
) AS totals_and_paths
ALL LEFT JOIN
(
    SELECT
        customer_id,
        period,
        arrayMap(t -> tupleElement(t, 1), arraySort(groupArray((key, n)))) AS ua_keys,
        arrayMap(t -> tupleElement(t, 2), arraySort(groupArray((key, n)))) AS ua_counts
    FROM
    (
        SELECT customer_id, toStartOfHour(window_start) AS period, key, sum(cnt) AS n
        FROM {{database}}.minute_aggregates
        ARRAY JOIN ua_keys AS key, ua_counts AS cnt
        GROUP BY customer_id, period, key
    )
    GROUP BY customer_id, period
) AS user_agents USING (customer_id, period);
