-- daily rollup of minute_aggregates, computed when read so it is exact as soon as the minutes are.
-- ClickHouse 18.16 has no sumMap over String keys and one JOIN per SELECT: the key arrays are
-- exploded with ARRAY JOIN, summed per key, regrouped sorted by key, and joined in two steps.
CREATE VIEW IF NOT EXISTS {{database}}.daily_aggregates AS
SELECT customer_id, period AS window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts
FROM
(
    SELECT customer_id, period, total_requests, path_keys, path_counts
    FROM
    (
        SELECT customer_id, toStartOfDay(window_start) AS period, sum(total_requests) AS total_requests
        FROM {{database}}.minute_aggregates
        GROUP BY customer_id, period
    )
    ANY LEFT JOIN
    (
        SELECT
            customer_id,
            period,
            arrayMap(t -> tupleElement(t, 1), arraySort(groupArray((key, n)))) AS path_keys,
            arrayMap(t -> tupleElement(t, 2), arraySort(groupArray((key, n)))) AS path_counts
        FROM
        (
            SELECT customer_id, toStartOfDay(window_start) AS period, key, sum(cnt) AS n
            FROM {{database}}.minute_aggregates
            ARRAY JOIN path_keys AS key, path_counts AS cnt
            GROUP BY customer_id, period, key
        )
        GROUP BY customer_id, period
    ) USING (customer_id, period)
)
ANY LEFT JOIN
(
    SELECT
        customer_id,
        period,
        arrayMap(t -> tupleElement(t, 1), arraySort(groupArray((key, n)))) AS ua_keys,
        arrayMap(t -> tupleElement(t, 2), arraySort(groupArray((key, n)))) AS ua_counts
    FROM
    (
        SELECT customer_id, toStartOfDay(window_start) AS period, key, sum(cnt) AS n
        FROM {{database}}.minute_aggregates
        ARRAY JOIN ua_keys AS key, ua_counts AS cnt
        GROUP BY customer_id, period, key
    )
    GROUP BY customer_id, period
) USING (customer_id, period);
