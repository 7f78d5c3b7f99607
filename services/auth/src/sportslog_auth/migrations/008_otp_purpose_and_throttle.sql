-- One-time codes serve two purposes: signing in, and proving a phone number.
ALTER TABLE otp_challenges
    ADD COLUMN purpose text NOT NULL DEFAULT 'login' CHECK (purpose IN ('login', 'phone'));
DROP INDEX otp_challenges_user_id;
CREATE INDEX otp_challenges_lookup ON otp_challenges (user_id, purpose, created_at DESC);

-- Attempts counted for throttling, shared by every auth replica. `key` is an HMAC of the
-- email, phone or IP, so the table holds no address of anyone who never signed up.
CREATE TABLE throttle_hits (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope  text NOT NULL,
    key    text NOT NULL,
    hit_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX throttle_hits_lookup ON throttle_hits (scope, key, hit_at);
