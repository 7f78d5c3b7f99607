"""Garmin Training Center XML (TCX), with the hardened parser."""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from sportslog_activities.imports.model import InvalidFile, Parsed, Point
from sportslog_activities.imports.xml_safety import local, parse_xml


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if local(c.tag) == name), None)


def _text(element: Element | None, *path: str) -> str | None:
    for name in path:
        if element is None:
            return None
        element = _child(element, name)
    return element.text.strip() if element is not None and element.text else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidFile(f"not a number: {value[:20]!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidFile("not a finite number")
    return number


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidFile(f"not a time: {value[:40]!r}") from None


def parse_tcx(data: bytes) -> Parsed:
    root = parse_xml(data)
    activity = next((e for e in root.iter() if local(e.tag) == "Activity"), None)
    if activity is None:
        raise InvalidFile("the TCX file has no Activity")
    points: list[Point] = []
    duration = distance = 0.0
    calories = 0
    for lap in (c for c in activity if local(c.tag) == "Lap"):
        duration += _number(_text(lap, "TotalTimeSeconds")) or 0.0
        distance += _number(_text(lap, "DistanceMeters")) or 0.0
        calories += int(_number(_text(lap, "Calories")) or 0)
        for tp in (e for e in lap.iter() if local(e.tag) == "Trackpoint"):
            hr = _number(_text(tp, "HeartRateBpm", "Value"))
            points.append(
                Point(
                    time=_time(_text(tp, "Time")),
                    lat=_number(_text(tp, "Position", "LatitudeDegrees")),
                    lon=_number(_text(tp, "Position", "LongitudeDegrees")),
                    ele=_number(_text(tp, "AltitudeMeters")),
                    hr=int(hr) if hr is not None else None,
                )
            )
    return Parsed(
        format="tcx",
        sport=activity.get("Sport"),
        points=points,
        started_at=_time(_text(activity, "Id")),
        duration_secs=duration or None,
        distance_meters=distance or None,
        calories=calories or None,
    )
