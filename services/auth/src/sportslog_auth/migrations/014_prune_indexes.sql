-- The periodic prune (queries/pruning.py) finds the rows past their retention through
-- these. A session has ended at its revocation or its expiry, whichever came first;
-- refresh tokens are found through refresh_tokens_session_id.
CREATE INDEX sessions_ended_at ON sessions ((least(revoked_at, expires_at)));
CREATE INDEX otp_challenges_expires_at ON otp_challenges (expires_at);
CREATE INDEX throttle_hits_hit_at ON throttle_hits (hit_at);
CREATE INDEX oauth_spent_states_expires_at ON oauth_spent_states (expires_at);
CREATE INDEX oauth_exchange_codes_expires_at ON oauth_exchange_codes (expires_at);
