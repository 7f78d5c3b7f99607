-- The periodic prune finds processed events past PROCESSED_EVENT_RETENTION_DAYS through it
-- (idempotency_keys already has idempotency_keys_created_at).
CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
