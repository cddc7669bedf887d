-- Every flush of a window writes a new revision, in one row: the window's complete counts, and
-- the ids of the partials merged since the previous revision (a batch id, or batch#part/parts).
-- The highest revision's counts are the window's truth; the ids of all its revisions are what it
-- has merged. A row lands whole or not at all, so counts and ids are durable together, and a
-- revision of a window fed by a hundred thousand batches writes only what is new. Every revision
-- is kept (the ids of each are needed); old windows leave with retention.
-- Two rows of one window may carry the same revision (a retried insert; two writers for a moment
-- during a rebalance). Readers then order by (revision, written_at, content_hash), so that every
-- read, on every ClickHouse version, takes every column from the same row. content_hash is
-- computed by ClickHouse on insert (cityHash64 gives the same value in 18.16 and current releases).
CREATE TABLE IF NOT EXISTS {{database}}.window_revisions
(
    customer_id String,
    window_start DateTime('UTC'),
    revision UInt64,
    total_requests UInt64,
    path_keys Array(String),
    path_counts Array(UInt64),
    ua_keys Array(String),
    ua_counts Array(UInt64),
    batch_ids Array(String),
    written_at DateTime('UTC'),
    content_hash UInt64 MATERIALIZED cityHash64(total_requests, path_keys, path_counts, ua_keys, ua_counts, batch_ids)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (customer_id, window_start, revision);
