"""The revocation cache's rules (the end-to-end timing is in tests/e2e/test_revocation.py)."""

import uuid
from datetime import UTC, datetime

import pytest

from sportslog_common.bus.topology import REPLICA_BINDINGS
from sportslog_common.errors import InvalidToken, UpstreamUnavailable
from sportslog_common.events import (
    Envelope,
    UserDeleted,
    UserPasswordChanged,
    UserSessionRevoked,
    UserTokensRevoked,
)
from sportslog_common.jwt import AccessClaims
from sportslog_gateway.revocations import REVOCATION_EVENTS, RevocationCache, TokenState


def claims(user: uuid.UUID, ver: int = 0, sid: uuid.UUID | None = None) -> AccessClaims:
    return AccessClaims(str(user), "a@example.com", ver, str(sid or uuid.uuid4()), "j", 2, 1)


class AuthState:
    """Stands in for auth's token-state answers, counting how often it is asked."""

    def __init__(self) -> None:
        self.states: dict[uuid.UUID, TokenState] = {}
        self.calls = 0
        self.down = False

    async def __call__(self, user_id: uuid.UUID) -> TokenState | None:
        self.calls += 1
        if self.down:
            raise ConnectionError("auth is down")
        state = self.states.get(user_id)
        return TokenState(state.token_version, set(state.revoked_sessions)) if state else None


def event(data) -> Envelope:
    return Envelope.wrap(data, producer="auth")


async def test_cached_after_one_fetch_and_unknown_users_refused():
    auth, user = AuthState(), uuid.uuid4()
    auth.states[user] = TokenState(0)
    cache = RevocationCache(auth)
    for _ in range(3):
        await cache.check(claims(user))
    assert auth.calls == 1
    with pytest.raises(InvalidToken):
        await cache.check(claims(uuid.uuid4()))  # deleted or never existed


async def test_events_revoke_versions_sessions_and_users():
    auth, user, sid = AuthState(), uuid.uuid4(), uuid.uuid4()
    auth.states[user] = TokenState(0)
    cache = RevocationCache(auth)
    await cache.check(claims(user, sid=sid))
    await cache.apply(
        event(UserSessionRevoked(user_id=user, session_id=sid, expires_at=datetime.now(UTC)))
    )
    with pytest.raises(InvalidToken, match="revoked"):
        await cache.check(claims(user, sid=sid))
    await cache.check(claims(user))  # another session still works
    await cache.apply(event(UserTokensRevoked(user_id=user, token_version=1)))
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=0))
    await cache.check(claims(user, ver=1))
    await cache.apply(
        event(UserPasswordChanged(user_id=user, email="a@example.com", token_version=2))
    )
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=1))
    await cache.apply(event(UserDeleted(user_id=user, email="a@example.com")))
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=2))
    assert auth.calls == 1


async def test_an_event_before_the_first_fetch_is_not_forgotten():
    auth, user = AuthState(), uuid.uuid4()
    auth.states[user] = TokenState(0)  # auth's answer lags behind the event
    cache = RevocationCache(auth)
    await cache.apply(event(UserTokensRevoked(user_id=user, token_version=5)))
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=4))
    assert auth.calls == 1


async def test_fails_closed_when_auth_cannot_be_asked():
    auth = AuthState()
    auth.down = True
    with pytest.raises(UpstreamUnavailable):
        await RevocationCache(auth).check(claims(uuid.uuid4()))


async def test_bounded_in_size():
    auth = AuthState()
    users = [uuid.uuid4() for _ in range(5)]
    for user in users:
        auth.states[user] = TokenState(0)
    cache = RevocationCache(auth, max_users=3)
    for user in users:
        await cache.check(claims(user))
    await cache.check(claims(users[0]))  # evicted: fetched again
    assert auth.calls == 6


async def test_a_broker_reconnect_makes_every_entry_be_read_again():
    auth, user = AuthState(), uuid.uuid4()
    auth.states[user] = TokenState(0)
    cache = RevocationCache(auth)
    await cache.check(claims(user, ver=0))
    # While the replica was disconnected, the user's tokens were revoked: no event arrived.
    auth.states[user] = TokenState(1)
    cache.reconnected()
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=0))
    assert auth.calls == 2


async def test_while_disconnected_nothing_cached_is_trusted_for_long():
    """Off the broker, no revocation event can arrive: the state is re-read on the next
    request and kept only `offline_ttl`, not the 300 s TTL, until the connection is back."""
    auth, user = AuthState(), uuid.uuid4()
    auth.states[user] = TokenState(0)
    cache = RevocationCache(auth, offline_ttl=0.0)
    await cache.check(claims(user, ver=0))
    cache.disconnected()
    for calls in (2, 3):
        await cache.check(claims(user, ver=0))
        assert auth.calls == calls  # read again every time (offline_ttl 0 here)
    auth.states[user] = TokenState(1)  # a password reset while we are away
    with pytest.raises(InvalidToken):
        await cache.check(claims(user, ver=0))
    cache.reconnected()
    await cache.check(claims(user, ver=1))
    await cache.check(claims(user, ver=1))
    assert auth.calls == 5  # connected: cached again


def test_the_replica_queue_binds_exactly_the_events_the_cache_folds_in():
    assert set(REPLICA_BINDINGS["gateway"]) == set(REVOCATION_EVENTS)
