-- Hour and day rollups kept as data arrives, instead of computed from every revision when read.
-- A period's row is recomputed, whole, from the finer level each time a window in it is touched
-- (the window-aggregator does it after each write, before committing its offsets), and every
-- recomputation adds a row: counts only grow with the revisions, so the row with the largest
-- total is the most complete one, whichever writer wrote it and in whatever order (see "Rollups"
-- in docs/semantics.md). ReplacingMergeTree(total_requests) lets background merges keep only that
-- row; readers never wait for them: the views take it with argMax by precedence, the total then
-- a hash of the content (equal totals mean equal content, the hash only makes a tie the same
-- row on every ClickHouse version). A customer has 24 hour rows a day and one day row: granules of
-- 256 rows (not 8192) keep what a one-customer read touches near what it returns.
CREATE TABLE IF NOT EXISTS {{database}}.hourly_rollup
(
    customer_id String,
    window_start DateTime('UTC'),
    total_requests UInt64,
    path_keys Array(String),
    path_counts Array(UInt64),
    ua_keys Array(String),
    ua_counts Array(UInt64),
    precedence Tuple(UInt64, UInt64) MATERIALIZED (total_requests, cityHash64(total_requests, path_keys, path_counts, ua_keys, ua_counts))
)
ENGINE = ReplacingMergeTree(total_requests)
PARTITION BY toYYYYMM(window_start)
ORDER BY (customer_id, window_start)
SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS {{database}}.daily_rollup
(
    customer_id String,
    window_start DateTime('UTC'),
    total_requests UInt64,
    path_keys Array(String),
    path_counts Array(UInt64),
    ua_keys Array(String),
    ua_counts Array(UInt64),
    precedence Tuple(UInt64, UInt64) MATERIALIZED (total_requests, cityHash64(total_requests, path_keys, path_counts, ua_keys, ua_counts))
)
ENGINE = ReplacingMergeTree(total_requests)
PARTITION BY toYYYYMM(window_start)
ORDER BY (customer_id, window_start)
SETTINGS index_granularity = 256;

-- The existing revisions, month by month (a month whose partition appears meanwhile is written by
-- the aggregators themselves). Running this again only adds rows equal to those written before.
-- for each month of window_revisions
INSERT INTO {{database}}.hourly_rollup (customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts)
SELECT
    customer_id,
    period AS window_start,
    sumIf(n, kind = 0) AS total_requests,
    arrayMap(t -> tupleElement(t, 1), arraySort(groupArrayIf((key, n), kind = 1))) AS path_keys,
    arrayMap(t -> tupleElement(t, 2), arraySort(groupArrayIf((key, n), kind = 1))) AS path_counts,
    arrayMap(t -> tupleElement(t, 1), arraySort(groupArrayIf((key, n), kind = 2))) AS ua_keys,
    arrayMap(t -> tupleElement(t, 2), arraySort(groupArrayIf((key, n), kind = 2))) AS ua_counts
FROM
(
    SELECT customer_id, period, tupleElement(item, 1) AS kind, tupleElement(item, 2) AS key, sum(tupleElement(item, 3)) AS n
    FROM
    (
        SELECT
            customer_id,
            toStartOfHour(window_start) AS period,
            argMax(
                arrayConcat([(0, '', total_requests)], arrayMap((k, c) -> (1, k, c), path_keys, path_counts), arrayMap((k, c) -> (2, k, c), ua_keys, ua_counts)),
                (revision, written_at, content_hash)
            ) AS items
        FROM {{database}}.window_revisions
        WHERE window_start >= {{month_from}} AND window_start <= {{month_to}}
        GROUP BY customer_id, window_start
    )
    ARRAY JOIN items AS item
    GROUP BY customer_id, period, kind, key
)
GROUP BY customer_id, period;

-- for each month of hourly_rollup
INSERT INTO {{database}}.daily_rollup (customer_id, window_start, total_requests, path_keys, path_counts, ua_keys, ua_counts)
SELECT
    customer_id,
    period AS window_start,
    sumIf(n, kind = 0) AS total_requests,
    arrayMap(t -> tupleElement(t, 1), arraySort(groupArrayIf((key, n), kind = 1))) AS path_keys,
    arrayMap(t -> tupleElement(t, 2), arraySort(groupArrayIf((key, n), kind = 1))) AS path_counts,
    arrayMap(t -> tupleElement(t, 1), arraySort(groupArrayIf((key, n), kind = 2))) AS ua_keys,
    arrayMap(t -> tupleElement(t, 2), arraySort(groupArrayIf((key, n), kind = 2))) AS ua_counts
FROM
(
    SELECT customer_id, period, tupleElement(item, 1) AS kind, tupleElement(item, 2) AS key, sum(tupleElement(item, 3)) AS n
    FROM
    (
        SELECT
            customer_id,
            toStartOfDay(window_start) AS period,
            argMax(
                arrayConcat([(0, '', total_requests)], arrayMap((k, c) -> (1, k, c), path_keys, path_counts), arrayMap((k, c) -> (2, k, c), ua_keys, ua_counts)),
                precedence
            ) AS items
        FROM {{database}}.hourly_rollup
        WHERE window_start >= {{month_from}} AND window_start <= {{month_to}}
        GROUP BY customer_id, window_start
    )
    ARRAY JOIN items AS item
    GROUP BY customer_id, period, kind, key
)
GROUP BY customer_id, period;

-- The views switch only once the tables are filled: built under a temporary name, then swapped
-- in one RENAME. Every step can run again after an interruption; a RENAME cut between its two
-- halves (18.16 renames one table after the other) or raced by another instance leaves a view
-- missing, which the CREATE ... IF NOT EXISTS before the swap puts back (already on the rollups).
DROP TABLE IF EXISTS {{database}}.hourly_aggregates_next;

CREATE VIEW {{database}}.hourly_aggregates_next AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, precedence) AS total_requests,
    argMax(path_keys, precedence) AS path_keys,
    argMax(path_counts, precedence) AS path_counts,
    argMax(ua_keys, precedence) AS ua_keys,
    argMax(ua_counts, precedence) AS ua_counts
FROM {{database}}.hourly_rollup
GROUP BY customer_id, window_start;

DROP TABLE IF EXISTS {{database}}.daily_aggregates_next;

CREATE VIEW {{database}}.daily_aggregates_next AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, precedence) AS total_requests,
    argMax(path_keys, precedence) AS path_keys,
    argMax(path_counts, precedence) AS path_counts,
    argMax(ua_keys, precedence) AS ua_keys,
    argMax(ua_counts, precedence) AS ua_counts
FROM {{database}}.daily_rollup
GROUP BY customer_id, window_start;

CREATE VIEW IF NOT EXISTS {{database}}.hourly_aggregates AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, precedence) AS total_requests,
    argMax(path_keys, precedence) AS path_keys,
    argMax(path_counts, precedence) AS path_counts,
    argMax(ua_keys, precedence) AS ua_keys,
    argMax(ua_counts, precedence) AS ua_counts
FROM {{database}}.hourly_rollup
GROUP BY customer_id, window_start;

CREATE VIEW IF NOT EXISTS {{database}}.daily_aggregates AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, precedence) AS total_requests,
    argMax(path_keys, precedence) AS path_keys,
    argMax(path_counts, precedence) AS path_counts,
    argMax(ua_keys, precedence) AS ua_keys,
    argMax(ua_counts, precedence) AS ua_counts
FROM {{database}}.daily_rollup
GROUP BY customer_id, window_start;

DROP TABLE IF EXISTS {{database}}.hourly_aggregates_previous;

DROP TABLE IF EXISTS {{database}}.daily_aggregates_previous;

RENAME TABLE
    {{database}}.hourly_aggregates TO {{database}}.hourly_aggregates_previous,
    {{database}}.hourly_aggregates_next TO {{database}}.hourly_aggregates,
    {{database}}.daily_aggregates TO {{database}}.daily_aggregates_previous,
    {{database}}.daily_aggregates_next TO {{database}}.daily_aggregates;

DROP TABLE IF EXISTS {{database}}.hourly_aggregates_previous;

DROP TABLE IF EXISTS {{database}}.daily_aggregates_previous;
