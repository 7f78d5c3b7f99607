-- Outbox for activity.* events and the inbox that makes consuming user.deleted idempotent.
CREATE TABLE outbox (
    id         uuid PRIMARY KEY,
    type       text NOT NULL,
    envelope   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE processed_events (
    event_id     uuid NOT NULL,
    consumer     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, consumer)
);
