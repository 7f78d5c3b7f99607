"""Brute-force throttling kept in PostgreSQL, so every auth replica counts the same.

A rule allows `limit` counted attempts per key in a sliding `window`; past that, 429 with
`Retry-After` until the oldest counted attempt leaves the window. A success never clears
the count early (DESIGN.md §4).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter

from sportslog_auth.queries import throttle_hits as throttle_sql
from sportslog_common.db import Connection
from sportslog_common.errors import RateLimited

THROTTLED = Counter(
    "sportslog_auth_throttled_total", "Attempts refused by brute-force throttling", ["rule"]
)
WINDOW = timedelta(minutes=15)
DAY = timedelta(hours=24)
# Hits older than every rule's window count for nothing: the periodic prune deletes them.
HIT_RETENTION = DAY


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    window: timedelta = WINDOW


Attempt = tuple[Rule, str]
"""A rule and the value it counts (an email, a phone, an IP)."""


class Throttle:
    """Counts attempts against `rules`. Every method runs inside the caller's transaction."""

    def __init__(self, secret: bytes, rules: Rules) -> None:
        self._secret = secret
        self.rules = rules

    def _key(self, rule: Rule, value: str) -> str:
        return hmac.new(self._secret, f"{rule.name}:{value}".encode(), hashlib.sha256).hexdigest()

    async def begin(
        self, conn: Connection, attempts: list[Attempt], *, refusal: str | None = None
    ) -> list[int]:
        """Count the attempt against every rule *before* it is tried, or refuse it (429)
        when a rule's window is full; `forgive` the attempt once it succeeded."""
        hit_ids = []
        for rule, value in attempts:
            key = self._key(rule, value)
            hit_id = await throttle_sql.insert_hit_if_under(
                conn, rule.name, key, rule.window, rule.limit
            )
            if hit_id is None:
                THROTTLED.labels(rule.name).inc()
                oldest = await throttle_sql.oldest_hit(conn, rule.name, key, rule.window)
                now = datetime.now(UTC)
                retry_after = rule.window - (now - (oldest or now))
                # Raised inside the caller's transaction: hits counted above roll back.
                raise RateLimited(int(retry_after.total_seconds()) + 1, refusal)
            hit_ids.append(hit_id)
        return hit_ids

    async def counted(self, conn: Connection, rule: Rule, value: str) -> int:
        """Attempts counted against `rule` for `value` in its window now."""
        return await throttle_sql.count_hits(conn, rule.name, self._key(rule, value), rule.window)

    async def frees_up_at(self, conn: Connection, rule: Rule, value: str) -> datetime:
        """When the oldest counted attempt leaves the window (now when there is none)."""
        oldest = await throttle_sql.oldest_hit(conn, rule.name, self._key(rule, value), rule.window)
        return oldest + rule.window if oldest else datetime.now(UTC)

    async def forgive(self, conn: Connection, hit_ids: list[int]) -> None:
        """The attempt succeeded: it was not a failure. Earlier failures still count."""
        await throttle_sql.delete_hits(conn, hit_ids)


@dataclass(frozen=True)
class Rules:
    """What is counted, per what (DESIGN.md §3 LOGIN_MAX_FAILURES_PER_*, §4 OTP limits,
    §9 SMS limits)."""

    login_account: Rule
    login_ip: Rule
    token_ip: Rule  # wrong verify-email and reset-password tokens
    otp_request: Rule  # sign-in codes asked for, per email or number
    otp_verify: Rule
    otp_verify_ip: Rule
    otp_failures_day: Rule  # wrong sign-in codes per account: past it, code sign-in locks
    # Phone verification counts apart from sign-in codes, so whoever puts someone else's
    # number on their profile cannot spend that number's sign-in allowance.
    phone_code_request: Rule  # per number
    phone_code_account: Rule  # per account
    phone_change: Rule  # new numbers set on one profile
    mail_request: Rule  # forgot-password and resend-verification, per address

    @classmethod
    def from_limits(cls, per_account: int, per_ip: int, otp_per_day: int = 20) -> Rules:
        return cls(
            login_account=Rule("login_account", per_account),
            login_ip=Rule("login_ip", per_ip),
            token_ip=Rule("token_ip", per_ip),
            otp_request=Rule("otp_request", 3),
            otp_verify=Rule("otp_verify", per_account),
            otp_verify_ip=Rule("otp_verify_ip", per_ip),
            otp_failures_day=Rule("otp_failures_day", otp_per_day, DAY),
            phone_code_request=Rule("phone_code_request", 3),
            phone_code_account=Rule("phone_code_account", 5, DAY),
            phone_change=Rule("phone_change", 3, DAY),
            mail_request=Rule("mail_request", 5),
        )
