"""The periodic prune of auth's tables: what has been dead past its retention goes, nothing
else; a row a request holds is skipped; the running service does it on its own."""

import asyncio
import uuid
from datetime import timedelta

import jwt
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError

from sportslog_auth.app import create_app, prune_rules
from sportslog_auth.settings import AuthSettings
from sportslog_common.pruning import Pruner
from sportslog_testing import wait_until

DAY = timedelta(days=1)


async def new_user(conn) -> uuid.UUID:
    return await conn.fetchval(
        "INSERT INTO users (email) VALUES ($1) RETURNING id",
        f"p{uuid.uuid4().hex[:12]}@example.com",
    )


async def new_session(
    conn, user_id, *, expires_in: timedelta, revoked_ago: timedelta | None = None, tokens: int = 2
):
    """A session expiring `expires_in` from now (negative: ago), revoked `revoked_ago` ago."""
    session_id = await conn.fetchval(
        """
        INSERT INTO sessions (user_id, created_at, expires_at, revoked_at)
        VALUES ($1, now() - interval '60 days', now() + $2::interval, now() - $3::interval)
        RETURNING id
        """,
        user_id,
        expires_in,
        revoked_ago,
    )
    for _ in range(tokens):
        await conn.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at, rotated_at)"
            " VALUES ($1, $2, now() - interval '60 days', now() - interval '59 days')",
            uuid.uuid4().hex,
            session_id,
        )
    return session_id


async def sessions_left(conn, ids) -> set[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM sessions WHERE id = ANY($1::uuid[])", list(ids))
    return {row["id"] for row in rows}


async def sessions_with_tokens(conn, ids) -> set[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT session_id FROM refresh_tokens WHERE session_id = ANY($1::uuid[])",
        list(ids),
    )
    return {row["session_id"] for row in rows}


async def test_only_what_ended_past_its_retention_is_pruned(app, settings):
    # Defaults: refresh tokens 7 days after their session ended, sessions 30, codes 7.
    assert (settings.refresh_token_retention_days, settings.session_retention_days) == (7, 30)
    assert settings.otp_challenge_retention_days == 7
    pool = app.state.pool
    async with pool.acquire() as conn:
        user_id = await new_user(conn)
        s = {
            "expired_40_days_ago": await new_session(conn, user_id, expires_in=-40 * DAY),
            "revoked_40_days_ago": await new_session(
                conn, user_id, expires_in=-10 * DAY, revoked_ago=40 * DAY
            ),
            "revoked_10_days_ago": await new_session(
                conn, user_id, expires_in=20 * DAY, revoked_ago=10 * DAY
            ),
            "expired_10_days_ago": await new_session(conn, user_id, expires_in=-10 * DAY),
            "revoked_yesterday": await new_session(
                conn, user_id, expires_in=20 * DAY, revoked_ago=DAY
            ),
            # Live, with tokens rotated 59 days ago: they still catch a replay.
            "live": await new_session(conn, user_id, expires_in=20 * DAY),
        }
        otp = {}
        for name, expired_ago in {"expired_8_days": 8 * DAY, "expired_6_days": 6 * DAY}.items():
            otp[name] = await conn.fetchval(
                """
                INSERT INTO otp_challenges (user_id, channel, destination, code_hash, expires_at,
                                            used, created_at)
                VALUES ($1, 'email', 'x@example.com', 'h', now() - $2::interval, true,
                        now() - $2::interval - interval '10 minutes')
                RETURNING id
                """,
                user_id,
                expired_ago,
            )
        otp["live"] = await conn.fetchval(
            "INSERT INTO otp_challenges (user_id, channel, destination, code_hash, expires_at)"
            " VALUES ($1, 'sms', '+15005550006', 'h', now() + interval '10 minutes') RETURNING id",
            user_id,
        )
        hits = await conn.fetch(
            "INSERT INTO throttle_hits (scope, key, hit_at)"
            " VALUES ('login_ip', 'k', now() - interval '25 hours'),"
            "        ('login_ip', 'k', now() - interval '14 minutes') RETURNING id"
        )
        states = [uuid.uuid4().hex, uuid.uuid4().hex]
        await conn.execute(
            "INSERT INTO oauth_spent_states (state_hash, expires_at)"
            " VALUES ($1, now() - interval '1 second'), ($2, now() + interval '9 minutes')",
            *states,
        )
        codes = [uuid.uuid4().hex, uuid.uuid4().hex]
        await conn.execute(
            "INSERT INTO oauth_exchange_codes (code_hash, user_id, provider, code_challenge,"
            " expires_at) VALUES ($1, $3, 'google', 'c', now() - interval '1 second'),"
            " ($2, $3, 'google', 'c', now() + interval '50 seconds')",
            *codes,
            user_id,
        )

    pruned = await Pruner(pool, prune_rules(settings), batch_size=3).prune_once()

    async with pool.acquire() as conn:
        assert await sessions_left(conn, s.values()) == {
            s[name]
            for name in ("revoked_10_days_ago", "expired_10_days_ago", "revoked_yesterday", "live")
        }
        assert await sessions_with_tokens(conn, s.values()) == {
            s["revoked_yesterday"],
            s["live"],
        }
        otp_left = await conn.fetch(
            "SELECT id FROM otp_challenges WHERE id = ANY($1::uuid[])", list(otp.values())
        )
        assert {row["id"] for row in otp_left} == {otp["expired_6_days"], otp["live"]}
        hits_left = await conn.fetch(
            "SELECT id FROM throttle_hits WHERE id = ANY($1::bigint[])", [h["id"] for h in hits]
        )
        assert [row["id"] for row in hits_left] == [hits[1]["id"]]
        assert await conn.fetchval(
            "SELECT array_agg(state_hash) FROM oauth_spent_states WHERE state_hash = ANY($1)",
            states,
        ) == [states[1]]
        assert await conn.fetchval(
            "SELECT array_agg(code_hash) FROM oauth_exchange_codes WHERE code_hash = ANY($1)", codes
        ) == [codes[1]]
        # The user and its profile-level rows are untouched.
        assert await conn.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1
    assert list(pruned) == [
        "refresh_tokens",
        "sessions",
        "otp_challenges",
        "pending_registrations",
        "throttle_hits",
        "sms_sends",
        "oauth_spent_states",
        "oauth_exchange_codes",
    ]
    # Each ended session's two tokens went before the session itself (nothing left to cascade).
    assert pruned["refresh_tokens"] >= 6
    assert pruned["sessions"] >= 2


async def test_links_expired_past_retention_and_sends_out_of_the_budget_are_pruned(app, settings):
    # A resend renews an expired link for 7 days; an SMS counts against the budget for 24 h.
    assert settings.pending_registration_retention_days == 7
    pool = app.state.pool
    async with pool.acquire() as conn:
        user_id = await new_user(conn)
        links = {}
        for name, expires_in in {
            "8_days_ago": -8 * DAY,
            "6_days_ago": -6 * DAY,
            "live": DAY,
        }.items():
            links[name] = await conn.fetchval(
                "INSERT INTO pending_registrations (user_id, password_hash, token_hash, expires_at)"
                " VALUES ($1, 'h', $2, now() + $3::interval) RETURNING id",
                user_id,
                uuid.uuid4().hex,
                expires_in,
            )
        sends = await conn.fetch(
            "INSERT INTO sms_sends (country, sent_at) VALUES ('+44', now() - interval '25 hours'),"
            " ('+44', now() - interval '23 hours') RETURNING id"
        )

    pruned = await Pruner(pool, prune_rules(settings)).prune_once()

    async with pool.acquire() as conn:
        left = await conn.fetch(
            "SELECT id FROM pending_registrations WHERE id = ANY($1::uuid[])", list(links.values())
        )
        assert {row["id"] for row in left} == {links["6_days_ago"], links["live"]}
        sends_left = await conn.fetch(
            "SELECT id FROM sms_sends WHERE id = ANY($1::bigint[])", [r["id"] for r in sends]
        )
        assert [row["id"] for row in sends_left] == [sends[1]["id"]]
    assert pruned["pending_registrations"] >= 1
    assert pruned["sms_sends"] >= 1


async def test_a_session_in_use_is_skipped_not_waited_for(app, settings):
    pool = app.state.pool
    async with pool.acquire() as conn:
        user_id = await new_user(conn)
        held = await new_session(conn, user_id, expires_in=-40 * DAY)
        free = await new_session(conn, user_id, expires_in=-40 * DAY)
        token = await conn.fetchval(
            "SELECT token_hash FROM refresh_tokens WHERE session_id = $1 LIMIT 1", held
        )
    async with pool.acquire() as holder, holder.transaction():
        # What a refresh with that token holds while it runs (queries.sessions.lock_refresh_token).
        await holder.execute(
            "SELECT 1 FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id"
            " WHERE r.token_hash = $1 FOR UPDATE OF r, s",
            token,
        )
        await asyncio.wait_for(Pruner(pool, prune_rules(settings)).prune_once(), 3)
        async with pool.acquire() as conn:
            assert await sessions_left(conn, [held, free]) == {held}
            left = await conn.fetch(
                "SELECT token_hash FROM refresh_tokens WHERE session_id = $1", held
            )
            assert [row["token_hash"] for row in left] == [token]  # only the held one
    await Pruner(pool, prune_rules(settings)).prune_once()
    async with pool.acquire() as conn:
        assert await sessions_left(conn, [held]) == set()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_after_a_prune_a_replayed_token_still_revokes_its_session(
    app, settings, client, signup, new_email
):
    first = await signup(new_email())
    r = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    second = r.json()
    session_id = uuid.UUID(
        jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    )
    async with app.state.pool.acquire() as conn:  # rotated long ago, in a session still live
        await conn.execute(
            "UPDATE refresh_tokens SET created_at = now() - interval '60 days',"
            " rotated_at = now() - interval '59 days' WHERE session_id = $1 AND rotated_at IS NOT NULL",
            session_id,
        )

    await Pruner(app.state.pool, prune_rules(settings)).prune_once()

    replay = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert (await client.get("/auth/sessions", headers=bearer(second))).status_code == 401


async def test_the_running_service_prunes_on_its_own(settings):
    fast = settings.model_copy(update={"prune_interval_seconds": 0.1})
    app = create_app(fast)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with app.state.pool.acquire() as conn:
            ended = await new_session(conn, await new_user(conn), expires_in=-40 * DAY)

        async def gone():
            async with app.state.pool.acquire() as conn:
                return not await sessions_left(conn, [ended])

        await wait_until(gone, timeout=10, message="the ended session pruned")


def test_refresh_tokens_cannot_be_kept_longer_than_their_sessions(settings):
    values = {**settings.model_dump(), "refresh_token_retention_days": 31}
    with pytest.raises(ValidationError, match="REFRESH_TOKEN_RETENTION_DAYS cannot exceed"):
        AuthSettings(**values)
    assert AuthSettings(**{**values, "session_retention_days": 31}).session_retention_days == 31
