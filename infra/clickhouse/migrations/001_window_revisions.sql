-- Every flush of a window writes a complete new revision: the counts and the ids of every batch
-- merged into them, in one row. A row is therefore an atomic checkpoint of a window, and the
-- highest revision is its truth. ReplacingMergeTree folds old revisions away in the background;
-- the views below never rely on that having happened.
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
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(window_start)
ORDER BY (customer_id, window_start);
