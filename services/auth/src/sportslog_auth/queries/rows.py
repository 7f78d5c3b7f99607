"""Typed rows: a query returns a frozen dataclass named for what it holds, so mypy checks
every field a use case reads (an asyncpg.Record's keys it cannot)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sportslog_common.db import Record

T = TypeVar("T")


def one(row_type: Callable[..., T], record: Record | None) -> T | None:
    return None if record is None else row_type(**record)


def many(row_type: Callable[..., T], records: Iterable[Record]) -> list[T]:
    return [row_type(**record) for record in records]
