"""The envelope every event travels in (DESIGN.md §5); routing key = `type`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """Base of every event's `data`. Subclasses name their `type` and `version`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    producer: str
    request_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(cls, data: EventData, *, producer: str, request_id: str | None = None) -> Self:
        return cls(
            type=data.TYPE,
            version=data.VERSION,
            producer=producer,
            request_id=request_id,
            data=data.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
