"""Summaries: per period and activity type, count, total duration, distance and calories,
and the longest activity. Periods are UTC days, ISO weeks (from Monday) or months."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Literal

from sportslog_activities import queries
from sportslog_activities.schemas import ActivityFilter, PeriodStats, Stats, TypeStats
from sportslog_common.db import Pool

GroupBy = Literal["day", "week", "month"]
Units = Literal["metric", "imperial"]
METERS_PER_MILE = 1609.344


async def summarise(
    pool: Pool,
    user_id: uuid.UUID,
    f: ActivityFilter,
    *,
    group_by: GroupBy,
    units: Units,
) -> Stats:
    async with pool.acquire() as conn:
        rows = await queries.stats_rows(conn, user_id, group_by, f)
    per_meter = 1 / METERS_PER_MILE if units == "imperial" else 1.0
    periods: dict[str, dict[str, TypeStats]] = {}
    for row in rows:
        periods.setdefault(row["period"].isoformat(), {})[row["activity_type"]] = TypeStats(
            count=row["count"],
            duration_secs=row["duration_secs"],
            distance=round(row["distance_meters"] * per_meter, 3),
            calories=row["calories"],
            longest_duration_secs=row["longest_duration_secs"],
        )
    return Stats(
        group_by=group_by,
        units=units,
        periods=[
            PeriodStats(start=start, by_type=by_type, total=_total(by_type.values()))
            for start, by_type in periods.items()
        ],
    )


def _total(types: Iterable[TypeStats]) -> TypeStats:
    items = list(types)
    return TypeStats(
        count=sum(t.count for t in items),
        duration_secs=sum(t.duration_secs for t in items),
        distance=round(sum(t.distance for t in items), 3),
        calories=sum(t.calories for t in items),
        longest_duration_secs=max(t.longest_duration_secs for t in items),
    )
