"""Exports: the whole log as CSV (streamed), one activity's track as GPX 1.1."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from sportslog_activities import queries
from sportslog_activities.errors import NoTrack
from sportslog_activities.schemas import Activity
from sportslog_common.db import Pool

GPX_NS = "http://www.topografix.com/GPX/1/1"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # A spreadsheet would run "=..." as a formula (CSV injection): make it plain text.
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


async def csv_rows(pool: Pool, user_id: uuid.UUID) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> bytes:
        data = buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        return data

    writer.writerow(queries.EXPORT_COLUMNS)
    yield flush()
    async with pool.acquire() as conn, conn.transaction():
        async for record in queries.cursor_for_export(conn, user_id):
            writer.writerow([_cell(record[column]) for column in queries.EXPORT_COLUMNS])
            if buffer.tell() > 64 * 1024:
                yield flush()
    yield flush()


def to_gpx(activity: Activity) -> bytes:
    track = (activity.device_data or {}).get("track")
    points = [p for p in track if _is_point(p)] if isinstance(track, list) else []
    if not points:
        raise NoTrack()
    ET.register_namespace("", GPX_NS)
    gpx = ET.Element(f"{{{GPX_NS}}}gpx", version="1.1", creator="sports-log")
    trk = ET.SubElement(gpx, f"{{{GPX_NS}}}trk")
    ET.SubElement(trk, f"{{{GPX_NS}}}name").text = activity.activity_type
    ET.SubElement(trk, f"{{{GPX_NS}}}type").text = activity.activity_type
    segment = ET.SubElement(trk, f"{{{GPX_NS}}}trkseg")
    for point in points:
        trkpt = ET.SubElement(
            segment, f"{{{GPX_NS}}}trkpt", lat=f"{point['lat']:.7f}", lon=f"{point['lon']:.7f}"
        )
        if isinstance(point.get("ele"), int | float):
            ET.SubElement(trkpt, f"{{{GPX_NS}}}ele").text = f"{point['ele']:.1f}"
        if isinstance(point.get("time"), str):
            ET.SubElement(trkpt, f"{{{GPX_NS}}}time").text = point["time"]
    body: bytes = ET.tostring(gpx, encoding="utf-8", xml_declaration=True)
    return body


def _is_point(point: Any) -> bool:
    return (
        isinstance(point, dict)
        and isinstance(point.get("lat"), int | float)
        and isinstance(point.get("lon"), int | float)
        and -90 <= point["lat"] <= 90
        and -180 <= point["lon"] <= 180
    )
