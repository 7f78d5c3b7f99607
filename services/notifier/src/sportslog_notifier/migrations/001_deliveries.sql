-- The delivery log: one row per event, consulted before sending so a redelivered event is
-- never sent twice. No token or code is stored here, and the destination only masked.
CREATE TABLE deliveries (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id           uuid NOT NULL UNIQUE,
    event_type         text NOT NULL,
    channel            text NOT NULL CHECK (channel IN ('email', 'sms')),
    destination_masked text NOT NULL,
    template           text NOT NULL,
    status             text NOT NULL
                       CHECK (status IN ('sending', 'sent', 'failed', 'expired', 'dead')),
    -- While 'sending', the lease of the worker sending it; a crashed worker's lease lapses.
    claimed_until      timestamptz,
    attempts           integer NOT NULL DEFAULT 0,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    sent_at            timestamptz
);
