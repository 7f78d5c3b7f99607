-- Provider sign-in. Connections keep what the provider last said (tokens sealed with
-- OAUTH_TOKEN_ENCRYPTION_KEY); a callback's state is spent once, so a replayed callback
-- URL fails even if the provider would take its code twice; a flow that returns to an app
-- hands it a one-time code (stored hashed) instead of tokens in a URL, bound to the app's
-- PKCE challenge so that a code sent to someone else's browser is useless there.
ALTER TABLE oauth_connections
    ADD COLUMN email      text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE oauth_spent_states (
    state_hash text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE TABLE oauth_exchange_codes (
    code_hash  text PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    code_challenge text NOT NULL,
    expires_at timestamptz NOT NULL
);
