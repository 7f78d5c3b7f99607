"""Delete the rows a table no longer needs, a small batch at a time, while the service runs.

A service gives the `Pruner` its rules, in order; each rule is one statement (SQL kept in the
service's queries module) that deletes at most `$2` rows past their retention `$1` (an
interval), choosing them in a subquery with `LIMIT $2 FOR UPDATE SKIP LOCKED`:

    DELETE FROM t WHERE id IN (
        SELECT id FROM t WHERE expires_at < now() - $1::interval
        LIMIT $2 FOR UPDATE SKIP LOCKED)

Small batches keep each delete's locks and WAL short; SKIP LOCKED leaves a row a request is
holding for the next pass instead of waiting for it (and lets replicas prune together). A
rule runs batch after batch until one deletes fewer rows than a batch. A rule that fails
is logged and tried again next pass; the others still run; nothing here ever stops the
service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from sportslog_common import db
from sportslog_common.db import Pool
from sportslog_common.metrics import ROWS_PRUNED

log = structlog.get_logger("sportslog.pruning")

_LIMITED = re.compile(r"\bLIMIT\s+\$2\b", re.IGNORECASE)
_SKIP_LOCKED = re.compile(r"\bFOR\s+UPDATE\b.*\bSKIP\s+LOCKED\b", re.IGNORECASE | re.DOTALL)


def delete_older_than(table: str, column: str, key: str = "id") -> str:
    """The usual prune statement: rows of `table` whose `column` is more than $1 ago, $2 at
    a time. `key` is what identifies a row (a primary key, or "a, b" for a composite
    one). Names are the caller's constants, never input."""
    return (
        f"DELETE FROM {table} WHERE ({key}) IN ("  # noqa: S608
        f" SELECT {key} FROM {table} WHERE {column} < now() - $1::interval"
        " LIMIT $2 FOR UPDATE SKIP LOCKED)"
    )


@dataclass(frozen=True)
class PruneRule:
    table: str  # the metric's `table` label
    statement: str  # a DELETE taking ($1 retention interval, $2 batch size)
    retention: timedelta

    def __post_init__(self) -> None:
        # A delete without both could hold locks on a whole table, or queue behind requests.
        if not (_LIMITED.search(self.statement) and _SKIP_LOCKED.search(self.statement)):
            raise ValueError(
                f"prune rule for {self.table}: the statement must pick its rows with"
                " LIMIT $2 and FOR UPDATE SKIP LOCKED"
            )


class Pruner:
    def __init__(self, pool: Pool, rules: Sequence[PruneRule], *, batch_size: int = 1000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._pool = pool
        self._rules = list(rules)
        self._batch_size = batch_size
        for rule in self._rules:
            ROWS_PRUNED.labels(rule.table)  # the series exists (at 0) before the first prune

    async def run(self) -> None:
        """One pass, for `service.periodic`."""
        await self.prune_once()

    async def prune_once(self) -> dict[str, int]:
        """Apply every rule in order; the rows each deleted (a failed rule is left out)."""
        pruned: dict[str, int] = {}
        for rule in self._rules:
            try:
                pruned[rule.table] = await self._prune(rule)
            except Exception as exc:
                log.warning("prune_failed", table=rule.table, error=f"{type(exc).__name__}: {exc}")
                if db.is_unavailable(exc):
                    break  # the other rules would only wait for the same timeout
        return pruned

    async def _prune(self, rule: PruneRule) -> int:
        total = 0
        while True:
            # A connection per batch: requests get the pool between batches.
            async with self._pool.acquire() as conn:
                status = await conn.execute(rule.statement, rule.retention, self._batch_size)
            deleted = int(status.split()[-1])  # "DELETE <n>"
            ROWS_PRUNED.labels(rule.table).inc(deleted)
            total += deleted
            if deleted < self._batch_size:
                break
        if total:
            log.info("rows_pruned", table=rule.table, rows=total)
        return total
