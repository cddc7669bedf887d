-- A known-good write beside window_revisions: when inserting a window's revision keeps failing in a
-- way no table of error codes explains, the aggregator writes a row here. If it lands, ClickHouse
-- takes writes and the partial is the cause; if not, the store is failing and the partition waits.
-- Rows are only written then, so the table stays small; a month partition keeps it easy to trim.
CREATE TABLE IF NOT EXISTS {{database}}.write_probe
(
    written_at DateTime('UTC'),
    writer String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(written_at)
ORDER BY written_at;
