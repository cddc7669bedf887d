-- One row per customer and minute with the counts of its latest revision (ties: see 001).
CREATE VIEW IF NOT EXISTS {{database}}.minute_aggregates AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, (revision, written_at, content_hash)) AS total_requests,
    argMax(path_keys, (revision, written_at, content_hash)) AS path_keys,
    argMax(path_counts, (revision, written_at, content_hash)) AS path_counts,
    argMax(ua_keys, (revision, written_at, content_hash)) AS ua_keys,
    argMax(ua_counts, (revision, written_at, content_hash)) AS ua_counts
FROM {{database}}.window_revisions
GROUP BY customer_id, window_start;
