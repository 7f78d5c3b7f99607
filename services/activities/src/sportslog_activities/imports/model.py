"""What every parser produces, and the summary computed from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from sportslog_common.errors import AppError

# Device sport names -> our lowercase activity types.
SPORTS = {
    "running": "run",
    "run": "run",
    "trail_running": "run",
    "cycling": "cycle",
    "biking": "cycle",
    "bike": "cycle",
    "ride": "cycle",
    "swimming": "swim",
    "swim": "swim",
    "walking": "walk",
    "walk": "walk",
    "hiking": "hike",
    "hike": "hike",
    "rowing": "row",
    "training": "workout",
    "fitness_equipment": "workout",
}
MAX_TRACK_POINTS = 2000


class InvalidFile(AppError):
    status, code, message = 422, "invalid_file", "The file is not a readable GPX, TCX or FIT file"

    def __init__(self, reason: str) -> None:
        super().__init__(details=[{"field": "body.file", "message": reason}])


@dataclass(frozen=True)
class Point:
    time: datetime | None
    lat: float | None = None
    lon: float | None = None
    ele: float | None = None
    hr: int | None = None


@dataclass
class Parsed:
    format: str
    sport: str | None
    points: list[Point]
    started_at: datetime | None = None
    duration_secs: float | None = None
    distance_meters: float | None = None
    calories: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def activity_type(self) -> str:
        name = (self.sport or "").strip().lower().replace(" ", "_")
        return SPORTS.get(name, "workout")

    def start(self) -> datetime:
        times = [p.time for p in self.points if p.time is not None]
        started = self.started_at or (min(times) if times else None)
        if started is None:
            raise InvalidFile("the file has no start time")
        return started

    def duration(self) -> int:
        times = [p.time for p in self.points if p.time is not None]
        seconds = self.duration_secs
        if seconds is None and len(times) >= 2:
            seconds = (max(times) - min(times)).total_seconds()
        if seconds is None or seconds < 1:
            raise InvalidFile("the file has no duration (fewer than two timed points)")
        return min(round(seconds), 7 * 24 * 3600)

    def distance(self) -> float | None:
        if self.distance_meters is not None:
            return round(self.distance_meters, 1)
        located = [p for p in self.points if p.lat is not None and p.lon is not None]
        if len(located) < 2:
            return None
        total = sum(_haversine(a, b) for a, b in pairwise(located))
        return round(total, 1)

    def device_data(self) -> dict[str, Any]:
        elevations = [p.ele for p in self.points if p.ele is not None]
        rates = [p.hr for p in self.points if p.hr is not None]
        gain = sum(max(0.0, b - a) for a, b in pairwise(elevations))
        data: dict[str, Any] = {
            "format": self.format,
            "points_total": len(self.points),
            "elevation_gain_m": round(gain, 1) if elevations else None,
            "avg_hr": round(sum(rates) / len(rates)) if rates else None,
            "max_hr": max(rates) if rates else None,
            "track": [_point_json(p) for p in _downsample(self.points, MAX_TRACK_POINTS)],
            **self.extra,
        }
        return data


def _downsample(points: list[Point], cap: int) -> list[Point]:
    """Every k-th point, always keeping the last, so a long track stays a bounded size."""
    if len(points) <= cap:
        return points
    step = math.ceil(len(points) / cap)
    kept = points[::step]
    return kept if kept[-1] is points[-1] else [*kept, points[-1]]


def _point_json(p: Point) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if p.lat is not None and p.lon is not None:
        out["lat"], out["lon"] = round(p.lat, 7), round(p.lon, 7)
    if p.ele is not None:
        out["ele"] = round(p.ele, 1)
    if p.time is not None:
        out["time"] = p.time.isoformat().replace("+00:00", "Z")
    if p.hr is not None:
        out["hr"] = p.hr
    return out


def _haversine(a: Point, b: Point) -> float:
    assert a.lat is not None
    assert a.lon is not None
    assert b.lat is not None
    assert b.lon is not None
    r = 6_371_008.8
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlmb = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))
