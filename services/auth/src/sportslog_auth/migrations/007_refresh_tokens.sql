-- Every refresh token a session has had, so a replayed (already rotated) one is recognised
-- and kills its session. Only SHA-256 hashes are stored.
CREATE TABLE refresh_tokens (
    token_hash  text PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

INSERT INTO refresh_tokens (token_hash, session_id, created_at)
SELECT refresh_token_hash, id, created_at FROM sessions;

ALTER TABLE sessions DROP COLUMN refresh_token_hash;
ALTER TABLE sessions ADD COLUMN revoked_reason text;
