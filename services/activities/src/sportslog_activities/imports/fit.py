"""Garmin FIT (binary) with fitdecode; CRCs are checked, so truncation is caught."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fitdecode

from sportslog_activities.imports.model import InvalidFile, Parsed, Point

SEMICIRCLE = 180 / 2**31


def parse_fit(data: bytes) -> Parsed:
    points: list[Point] = []
    session: dict[str, Any] = {}
    try:
        with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.ENABLED) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                values = {f.name: f.value for f in frame.fields if f.value is not None}
                if frame.name == "record":
                    points.append(_point(values))
                elif frame.name == "session" and not session:
                    session = values
    except fitdecode.FitError as exc:
        raise InvalidFile(f"unreadable FIT ({type(exc).__name__})") from None
    if not points and not session:
        raise InvalidFile("the FIT file has no records")
    return Parsed(
        format="fit",
        sport=str(session["sport"]) if "sport" in session else None,
        points=points,
        started_at=_utc(session.get("start_time")),
        duration_secs=_float(session.get("total_elapsed_time")),
        distance_meters=_float(session.get("total_distance")),
        calories=int(session["total_calories"]) if "total_calories" in session else None,
    )


def _point(values: dict[str, Any]) -> Point:
    lat, lon = values.get("position_lat"), values.get("position_long")
    ele = values.get("enhanced_altitude", values.get("altitude"))
    hr = values.get("heart_rate")
    return Point(
        time=_utc(values.get("timestamp")),
        lat=lat * SEMICIRCLE if isinstance(lat, int) else None,
        lon=lon * SEMICIRCLE if isinstance(lon, int) else None,
        ele=float(ele) if isinstance(ele, int | float) else None,
        hr=int(hr) if isinstance(hr, int) else None,
    )


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
