-- One row per linked provider account; provider tokens encrypted with OAUTH_TOKEN_ENCRYPTION_KEY.
CREATE TABLE oauth_connections (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      text NOT NULL,
    provider_uid  text NOT NULL,
    access_token  text,
    refresh_token text,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_uid)
);
CREATE INDEX oauth_connections_user_id ON oauth_connections (user_id);
