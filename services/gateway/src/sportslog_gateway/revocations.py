"""Which access tokens were revoked before they expired (DESIGN.md §4 "Revocation").

Per user: the current `token_version` and the revoked, unexpired session ids. Fed by the
auth events (`user.tokens_revoked`, `user.password_changed`, `user.session_revoked`,
`user.deleted`) on this replica's own exclusive queue, so a revocation is refused here
within about a second; filled from auth's internal token-state endpoint on a miss.

While the broker connection is down, events cannot reach us (the queue went with the
connection), so the cache trusts nothing it knew: each user's state is re-read on their
next request and then kept only `offline_ttl` (0.5 s), until the connection is back and
every entry has been re-read once more.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from sportslog_common.errors import InvalidToken, UpstreamUnavailable
from sportslog_common.events import (
    Envelope,
    UserDeleted,
    UserPasswordChanged,
    UserSessionRevoked,
    UserTokensRevoked,
    parse_data,
)
from sportslog_common.jwt import AccessClaims

log = structlog.get_logger("sportslog.gateway.revocations")

# What the cache folds in; the replica queue binds REPLICA_BINDINGS["gateway"] in
# sportslog_common/bus/topology.py, and a test keeps the two the same.
REVOCATION_EVENTS = (
    UserTokensRevoked.TYPE,
    UserPasswordChanged.TYPE,
    UserSessionRevoked.TYPE,
    UserDeleted.TYPE,
)
DELETED = 2**62  # a token_version no token can carry


@dataclass
class TokenState:
    token_version: int
    revoked_sessions: set[str] = field(default_factory=set)
    fetched_at: float = field(default_factory=time.monotonic)


# Fetches a user's state from auth: None when the user does not exist (any more).
Fetch = Callable[[uuid.UUID], Awaitable[TokenState | None]]


class RevocationCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        max_users: int = 100_000,
        ttl: float = 300.0,
        offline_ttl: float = 0.5,
    ) -> None:
        self._fetch = fetch
        self._users: OrderedDict[str, TokenState] = OrderedDict()
        self._max_users = max_users
        # Re-read from auth after `ttl` anyway, in case an event was lost unnoticed.
        self._ttl = ttl
        self._offline_ttl = offline_ttl
        self.connected = True

    async def check(self, claims: AccessClaims) -> None:
        state = await self._state(claims.sub)
        if claims.ver < state.token_version or claims.sid in state.revoked_sessions:
            raise InvalidToken("Token has been revoked", reason="revoked")

    async def _state(self, user: str) -> TokenState:
        state = self._users.get(user)
        ttl = self._ttl if self.connected else self._offline_ttl
        if state is not None and time.monotonic() - state.fetched_at < ttl:
            self._users.move_to_end(user)
            return state
        try:
            fetched = await self._fetch(uuid.UUID(user))
        except ValueError:
            raise InvalidToken("Token claims are malformed", reason="malformed") from None
        except Exception as exc:
            # Fail closed: without knowing, a revoked token must not pass.
            log.warning("token_state_unavailable", error=type(exc).__name__)
            raise UpstreamUnavailable("Cannot check the token's revocation right now") from None
        state = fetched or TokenState(token_version=DELETED)
        self._remember(user, state)
        return state

    def _remember(self, user: str, state: TokenState) -> None:
        current = self._users.get(user)
        if current is not None:
            # An event may have landed while we fetched: keep the stricter knowledge.
            state.token_version = max(state.token_version, current.token_version)
            state.revoked_sessions |= current.revoked_sessions
        self._users[user] = state
        self._users.move_to_end(user)
        while len(self._users) > self._max_users:
            self._users.popitem(last=False)

    def disconnected(self, *_: object) -> None:
        """The broker connection is gone (a close callback): revocations published from now
        on never reach this replica, so nothing cached is trusted for long."""
        self.connected = False
        self._forget_freshness()

    def reconnected(self, *_: object) -> None:
        """Back (a reconnect callback, after the queue is bound again): events published
        while we were away are lost to us, so every entry is re-read before its next use."""
        self.connected = True
        self._forget_freshness()

    def _forget_freshness(self) -> None:
        for state in self._users.values():
            state.fetched_at = 0.0

    async def apply(self, envelope: Envelope) -> None:
        """The consumer handler: fold one auth event into the cache."""
        if envelope.type not in REVOCATION_EVENTS:
            return
        data = parse_data(envelope)
        if not isinstance(
            data, UserTokensRevoked | UserPasswordChanged | UserSessionRevoked | UserDeleted
        ):
            return
        user = str(data.user_id)
        # An entry made from an event alone (fetched_at 0) is re-read from auth before use,
        # then merged with what the events said.
        state = self._users.get(user) or TokenState(token_version=0, fetched_at=0.0)
        if isinstance(data, UserTokensRevoked | UserPasswordChanged):
            state.token_version = max(state.token_version, data.token_version)
        elif isinstance(data, UserSessionRevoked):
            state.revoked_sessions.add(str(data.session_id))
        else:
            state.token_version = DELETED
        self._remember(user, state)
