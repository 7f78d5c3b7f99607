"""Device files in, an activity out: GPX, TCX and FIT.

`parse(data)` sniffs the format, parses (in a worker thread: it is CPU-bound), and
returns what an activity needs; anything unreadable or hostile is `InvalidFile` (a 4xx).
"""

from sportslog_activities.imports.model import InvalidFile, Parsed, Point
from sportslog_activities.imports.sniff import parse

__all__ = ["InvalidFile", "Parsed", "Point", "parse"]
