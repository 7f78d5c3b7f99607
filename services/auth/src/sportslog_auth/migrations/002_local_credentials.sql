-- Only for users with a password. Tokens are stored as hex SHA-256, never in the clear.
CREATE TABLE local_credentials (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash     text NOT NULL,
    email_verified    boolean NOT NULL DEFAULT false,
    verify_token_hash text UNIQUE,
    verify_expires    timestamptz,
    reset_token_hash  text UNIQUE,
    reset_expires     timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
