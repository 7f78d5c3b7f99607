"""Request and response bodies of the activities API (DESIGN.md §4, Activities)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _utc(value: datetime) -> datetime:
    # "0001-01-01T00:00+14:00" is a valid ISO 8601 date whose UTC instant has no year.
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range") from None
    # asyncpg writes the first and last instants a datetime holds as -infinity and infinity,
    # and reads those back as naive datetimes: such an activity could never be shown.
    if utc.replace(tzinfo=None) in (datetime.min, datetime.max):
        raise ValueError("date is out of range")
    return utc


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, nor (stored as UTF-8) a lone surrogate, which
    # JSON can spell ("\\ud800") and plain `str` fields let through.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
Text = Annotated[str, AfterValidator(_no_nul)]
ActivityType = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
Source = Literal["manual", "garmin", "apple", "import"]
MAX_DURATION_SECS = 7 * 24 * 3600
MAX_DISTANCE_METERS = 100_000_000


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activity_type: ActivityType
    started_at: UtcDatetime
    duration_secs: int = Field(ge=1, le=MAX_DURATION_SECS)
    # Bounded (100,000 km, more than any sport covers in the 7 days an activity may last) so
    # that stats can add them up: PostgreSQL refuses a float8 sum past 1.8e308 (a 500).
    distance_meters: float | None = Field(
        default=None, ge=0, le=MAX_DISTANCE_METERS, allow_inf_nan=False
    )
    calories: int | None = Field(default=None, ge=0, le=1_000_000)
    notes: Text | None = Field(default=None, max_length=10_000)
    source: Source = "manual"
    external_id: Text | None = Field(default=None, min_length=1, max_length=256)
    device_data: dict[str, Any] | None = None


class Activity(BaseModel):
    id: uuid.UUID
    activity_type: str
    started_at: AwareDatetime
    duration_secs: int
    distance_meters: float | None
    calories: int | None
    notes: str | None
    source: Source
    external_id: str | None
    device_data: dict[str, Any] | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class ActivityPage(BaseModel):
    items: list[Activity]
    next_cursor: str | None


class TypeStats(BaseModel):
    count: int
    duration_secs: int
    distance: float  # meters, or miles with units=imperial
    calories: int
    longest_duration_secs: int


class PeriodStats(BaseModel):
    start: str  # YYYY-MM-DD, the period's first day (UTC)
    by_type: dict[str, TypeStats]
    total: TypeStats


class Stats(BaseModel):
    group_by: Literal["day", "week", "month"]
    units: Literal["metric", "imperial"]
    periods: list[PeriodStats]


@dataclass(frozen=True)
class ActivityFilter:
    """The filters of a listing and of the stats (`?activity_type=&from=&to=`), from the
    route to the SQL as one value; None is "any"."""

    activity_type: str | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
