"""What the periodic prune deletes (sportslog_common.pruning): $1 = retention, $2 = batch size.

Migration 014 indexes each predicate. A session has ended at its revocation or its expiry,
whichever came first; once ended, neither it nor any of its refresh tokens can be used
again (a replayed token of an ended session is refused whether or not its row is left).
"""

from __future__ import annotations

# Every refresh token of a session that ended more than $1 ago. Run before SESSIONS, so a
# session's delete does not cascade to thousands of rotated tokens in one batch.
REFRESH_TOKENS = """
DELETE FROM refresh_tokens WHERE token_hash IN (
    SELECT r.token_hash
    FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
    WHERE least(s.revoked_at, s.expires_at) < now() - $1::interval
    LIMIT $2
    FOR UPDATE OF r SKIP LOCKED
)
"""

# Sessions that ended more than $1 ago (any token left goes with them: ON DELETE CASCADE).
SESSIONS = """
DELETE FROM sessions WHERE id IN (
    SELECT id FROM sessions
    WHERE least(revoked_at, expires_at) < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

# One-time codes expired more than $1 ago (a used or burnt code expires minutes later).
OTP_CHALLENGES = """
DELETE FROM otp_challenges WHERE id IN (
    SELECT id FROM otp_challenges
    WHERE expires_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

THROTTLE_HITS = """
DELETE FROM throttle_hits WHERE id IN (
    SELECT id FROM throttle_hits
    WHERE hit_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

# Registration and reset links expired more than $1 ago (until then a resend renews them).
PENDING_REGISTRATIONS = """
DELETE FROM pending_registrations WHERE id IN (
    SELECT id FROM pending_registrations
    WHERE expires_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

# Sends older than $1 (the SMS budget's 24 h) no longer count against it.
SMS_SENDS = """
DELETE FROM sms_sends WHERE id IN (
    SELECT id FROM sms_sends
    WHERE sent_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

OAUTH_SPENT_STATES = """
DELETE FROM oauth_spent_states WHERE state_hash IN (
    SELECT state_hash FROM oauth_spent_states
    WHERE expires_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

OAUTH_EXCHANGE_CODES = """
DELETE FROM oauth_exchange_codes WHERE code_hash IN (
    SELECT code_hash FROM oauth_exchange_codes
    WHERE expires_at < now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""
