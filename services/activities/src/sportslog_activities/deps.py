from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from sportslog_activities.context import ActivitiesContext
from sportslog_activities.importer import Importer
from sportslog_activities.pagination import CursorSigner
from sportslog_activities.schemas import ActivityFilter, UtcDatetime
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.db import Pool
from sportslog_common.errors import InvalidToken
from sportslog_common.jwt import bearer_token


def _ctx(request: Request) -> ActivitiesContext:
    ctx: ActivitiesContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ActivitiesContext, Depends(_ctx)]


def _pool(ctx: Ctx) -> Pool:
    return ctx.pool


def _settings(ctx: Ctx) -> ActivitiesSettings:
    return ctx.settings


async def _current_user_id(
    ctx: Ctx, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> uuid.UUID:
    # The gateway verified the token already; we verify again and trust nobody's word.
    claims = await ctx.verifier.verify(bearer_token(authorization))
    try:
        return uuid.UUID(claims.sub)
    except ValueError:
        raise InvalidToken("Token subject is malformed") from None


def _signer(ctx: Ctx) -> CursorSigner:
    return ctx.cursor_signer


def _importer(ctx: Ctx) -> Importer:
    return ctx.importer


def _filter(
    activity_type: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,32}$")] = None,
    started_from: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    started_to: Annotated[UtcDatetime | None, Query(alias="to")] = None,
) -> ActivityFilter:
    return ActivityFilter(activity_type, started_from, started_to)


Db = Annotated[Pool, Depends(_pool)]
Filter = Annotated[ActivityFilter, Depends(_filter)]
FileImporter = Annotated[Importer, Depends(_importer)]
Signer = Annotated[CursorSigner, Depends(_signer)]
Settings = Annotated[ActivitiesSettings, Depends(_settings)]
UserId = Annotated[uuid.UUID, Depends(_current_user_id)]
