-- Refresh races (DESIGN.md §9): which client rotated a refresh token (a SHA-256 of its user
-- agent and IP), so the same client presenting it again within REFRESH_REUSE_GRACE_SECONDS
-- (two tabs refreshing at once) gets a sibling token instead of losing its session. NULL for
-- tokens rotated before this column existed: their reuse is a replay, as before.
ALTER TABLE refresh_tokens ADD COLUMN rotated_by text;
