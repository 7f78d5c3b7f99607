"""Rate limits with the `limits` library: a moving window per client on everything, and a
tighter one on the routes that guess or send (login, codes, registration, reset mails,
phone codes) or change where a message goes.
Storage is `memory://` for one replica, a Redis URI for several (RATE_LIMIT_STORAGE)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from sportslog_common.errors import RateLimited
from sportslog_gateway.metrics import RATE_LIMITED

SENSITIVE = (
    ("POST", "/auth/login"),
    ("POST", "/auth/register"),
    ("POST", "/auth/forgot-password"),
    ("POST", "/auth/reset-password"),
    ("POST", "/auth/verify-email"),
    ("POST", "/auth/resend-verification"),
    ("POST", "/auth/otp/"),  # request and verify
    ("GET", "/auth/login/"),  # each start may fetch a provider's discovery document
    ("GET", "/auth/callback/"),  # each callback spends a code at the provider
    ("POST", "/auth/oauth/exchange"),
    # Signed in, still a sender: one stolen token must not pump SMS or mail (issue 16, 3).
    ("POST", "/me/phone/"),  # verify-request sends an SMS, verify guesses its code
    ("PUT", "/me/profile"),  # sets the phone number the next SMS goes to
    ("PUT", "/me/password"),  # mails a "password changed" notice
    ("DELETE", "/me"),  # mails a goodbye (and tries a password or code)
)


@dataclass(frozen=True)
class Rule:
    name: str
    item: RateLimitItem


def _async_uri(uri: str) -> str:
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimits:
    def __init__(self, storage_uri: str, default: str, auth: str) -> None:
        storage = storage_from_string(_async_uri(storage_uri))
        assert isinstance(storage, Storage)
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._default = Rule("default", parse(default))
        self._auth = Rule("auth", parse(auth))

    def close(self) -> None:
        """Closes the storage's Redis connections, at shutdown (a later use reconnects).
        `limits` has no API for it: its Redis storage keeps a coredis client, whose pool
        does. Memory storage holds no connection."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    def rules(self, method: str, path: str) -> list[Rule]:
        sensitive = any(
            method == m and (path == p or (p.endswith("/") and path.startswith(p)))
            for m, p in SENSITIVE
        )
        return [self._default, self._auth] if sensitive else [self._default]

    async def hit(self, method: str, path: str, client: str) -> dict[str, str]:
        """Count the request; RateLimited (429 + Retry-After) when a window is full.
        Returns the RateLimit headers of the tightest rule for the response."""
        headers: dict[str, str] = {}
        tightest: float | None = None
        for rule in self.rules(method, path):
            allowed = await self._limiter.hit(rule.item, rule.name, client)
            stats = await self._limiter.get_window_stats(rule.item, rule.name, client)
            reset = max(1, int(stats.reset_time - time.time()) + 1)
            rule_headers = {
                "RateLimit-Limit": str(rule.item.amount),
                "RateLimit-Remaining": str(stats.remaining),
                "RateLimit-Reset": str(reset),
            }
            if not allowed:
                RATE_LIMITED.labels(rule.name).inc()
                raise RateLimited(reset, headers=rule_headers)
            share = stats.remaining / rule.item.amount
            if tightest is None or share < tightest:
                tightest, headers = share, rule_headers
        return headers
