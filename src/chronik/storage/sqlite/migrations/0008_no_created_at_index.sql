-- Every index on events is one more B-tree page written by each append. created_at never
-- goes back in sequence order, so the time filters find their first sequence by a binary
-- search over the primary key instead (queries sequence_at_or_after, sequence_after).
DROP INDEX events_created_at;
