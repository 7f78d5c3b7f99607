"""GPX 1.0/1.1 with gpxpy, after the safety check (gpxpy's own parser is not hardened)."""

from __future__ import annotations

from datetime import UTC, datetime

import gpxpy
import gpxpy.gpx

from sportslog_activities.imports.model import InvalidFile, Parsed, Point
from sportslog_activities.imports.xml_safety import local, parse_xml


def parse_gpx(data: bytes) -> Parsed:
    parse_xml(data)  # refuses DTDs and entities before gpxpy sees the bytes
    try:
        gpx = gpxpy.parse(data.decode("utf-8", errors="strict"))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as exc:
        raise InvalidFile(f"unreadable GPX ({type(exc).__name__})") from None
    points: list[Point] = []
    for track in gpx.tracks:
        for segment in track.segments:
            points.extend(
                Point(
                    time=_utc(p.time),
                    lat=p.latitude,
                    lon=p.longitude,
                    ele=p.elevation,
                    hr=_heart_rate(p),
                )
                for p in segment.points
            )
    if not points:
        raise InvalidFile("the GPX file has no track points")
    sport = next((t.type for t in gpx.tracks if t.type), None)
    return Parsed(format="gpx", sport=sport, points=points)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _heart_rate(point: gpxpy.gpx.GPXTrackPoint) -> int | None:
    # Garmin's TrackPointExtension: <gpxtpx:TrackPointExtension><gpxtpx:hr>140</gpxtpx:hr>
    for extension in point.extensions:
        for element in extension.iter():
            if local(element.tag) == "hr" and element.text and element.text.strip().isdigit():
                return int(element.text.strip())
    return None
