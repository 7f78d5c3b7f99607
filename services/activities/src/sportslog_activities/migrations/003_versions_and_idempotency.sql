-- `version` backs the ETag: every write bumps it, and If-Match compares against it.
ALTER TABLE activities ADD COLUMN version integer NOT NULL DEFAULT 1;

-- Idempotency-Key on POST /activities: the same key and body give the same activity.
-- Keys are kept 24 hours (pruned by the service).
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    activity_id  uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
