-- One row per customer and minute with the counts of its latest revision.
CREATE VIEW IF NOT EXISTS {{database}}.minute_aggregates AS
SELECT
    customer_id,
    window_start,
    argMax(total_requests, revision) AS total_requests,
    argMax(path_keys, revision) AS path_keys,
    argMax(path_counts, revision) AS path_counts,
    argMax(ua_keys, revision) AS ua_keys,
    argMax(ua_counts, revision) AS ua_counts
FROM {{database}}.window_revisions
GROUP BY customer_id, window_start;
