"""What the periodic prune deletes (sportslog_common.pruning): $1 = retention, $2 = batch size.

Migration 014 indexes each predicate. A session has ended at its revocation or its expiry,
whichever came first; once ended, neither it nor any of its refresh tokens can be used
again (a replayed token of an ended session is refused whether or not its row is left).
"""

from __future__ import annotations

from sportslog_common.pruning import delete_older_than

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
OTP_CHALLENGES = delete_older_than("otp_challenges", "expires_at")

THROTTLE_HITS = delete_older_than("throttle_hits", "hit_at")

# Registration and reset links expired more than $1 ago (until then a resend renews them).
PENDING_REGISTRATIONS = delete_older_than("pending_registrations", "expires_at")

# Sends older than $1 (the SMS budget's 24 h) no longer count against it.
SMS_SENDS = delete_older_than("sms_sends", "sent_at")

OAUTH_SPENT_STATES = delete_older_than("oauth_spent_states", "expires_at", key="state_hash")

OAUTH_EXCHANGE_CODES = delete_older_than("oauth_exchange_codes", "expires_at", key="code_hash")
