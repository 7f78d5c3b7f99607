-- Events written in the same transaction as the change; published by the relay (libs/common).
CREATE TABLE outbox (
    id         uuid PRIMARY KEY,
    type       text NOT NULL,
    envelope   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
