"""Which format a file is, by its bytes (never by its name or declared type)."""

from __future__ import annotations

from sportslog_activities.imports.fit import parse_fit
from sportslog_activities.imports.gpx import parse_gpx
from sportslog_activities.imports.model import InvalidFile, Parsed
from sportslog_activities.imports.tcx import parse_tcx


def parse(data: bytes) -> Parsed:
    if len(data) >= 12 and data[8:12] == b".FIT" and data[0] in (12, 14):
        return parse_fit(data)
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        if b"<gpx" in head:
            return parse_gpx(data)
        if b"trainingcenterdatabase" in head:
            return parse_tcx(data)
    raise InvalidFile("not a GPX, TCX or FIT file")
