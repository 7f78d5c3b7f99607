"""The deployment-wide SMS budget (DESIGN.md §9 "SMS limits"): SMS_DAILY_BUDGET sends in a
rolling 24 h, counted in PostgreSQL so every auth replica spends from the same budget.

Per-account and per-number limits (throttle.Rules) stop one account from pumping; this
stops many accounts together, and caps what a pumping attack can cost.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import phonenumbers

from sportslog_auth.errors import SmsUnavailable
from sportslog_auth.metrics import SMS_BUDGET_USED, SMS_SENT
from sportslog_auth.queries import sms_sends as sms_sql
from sportslog_common.db import Connection, Pool

WINDOW = timedelta(hours=24)


def country_prefix(number: str) -> str:
    """`+442079460958` -> `+44`: the label of the per-country counts."""
    return f"+{phonenumbers.parse(number, None).country_code}"


class SmsBudget:
    def __init__(self, daily: int) -> None:
        self.daily = daily

    async def spend(self, conn: Connection, number: str, *, fallback: str | None = None) -> None:
        """Count one SMS to `number`, or refuse it (SmsUnavailable) when the budget is
        spent. Call in the transaction that sends it: a rollback gives the SMS back."""
        await sms_sql.lock_budget(conn)
        sent = await self._check(conn, fallback)
        country = country_prefix(number)
        await sms_sql.record_send(conn, country)
        SMS_SENT.labels(country).inc()
        self._report(sent + 1)

    async def ensure_left(self, conn: Connection, *, fallback: str | None = None) -> None:
        """Refuse as `spend` would, sending nothing: a code asked for a number nobody
        verified gets the same answer as one for a number somebody did."""
        await self._check(conn, fallback)

    async def refresh(self, pool: Pool) -> None:
        """Report the deployment's usage (for `service.periodic`): the gauge falls back as
        sends leave the window even when this replica sends none."""
        async with pool.acquire() as conn:
            window = await sms_sql.sent_in_window(conn)
        self._report(window.sent)

    async def _check(self, conn: Connection, fallback: str | None) -> int:
        window = await sms_sql.sent_in_window(conn)
        sent = window.sent
        self._report(sent)
        if sent >= self.daily:
            frees_up = (window.oldest or datetime.now(UTC)) + WINDOW
            retry_after = int((frees_up - datetime.now(UTC)).total_seconds()) + 1
            raise SmsUnavailable(retry_after, fallback=fallback)
        return sent

    def _report(self, sent: int) -> None:
        SMS_BUDGET_USED.set(sent / self.daily if self.daily else 1.0)
