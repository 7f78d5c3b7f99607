-- Each registration of a not yet verified address keeps its own password hash beside its
-- own verification token: a link activates exactly the password of the attempt that made
-- it, and no pending password signs in before that (a pre-registration takeover otherwise:
-- the first password stood, and the owner's link verified the squatter's). A NULL hash is
-- a link that proves the inbox without setting any password (resend-verification when the
-- address has several pending attempts). local_credentials now holds verified passwords.
-- A 'reset' row is a password-reset link for an address not verified yet: using it proves
-- the inbox and sets the password given with it.
CREATE TABLE pending_registrations (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose       text NOT NULL DEFAULT 'verify' CHECK (purpose IN ('verify', 'reset')),
    password_hash text,
    token_hash    text NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_registrations_user ON pending_registrations (user_id, created_at);

INSERT INTO pending_registrations (user_id, password_hash, token_hash, expires_at, created_at)
SELECT user_id, password_hash, verify_token_hash, verify_expires, updated_at
FROM local_credentials
WHERE NOT email_verified AND verify_token_hash IS NOT NULL AND verify_expires IS NOT NULL;
DELETE FROM local_credentials WHERE NOT email_verified;
