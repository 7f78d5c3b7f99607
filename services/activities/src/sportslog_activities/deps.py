from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from sportslog_activities.importer import Importer
from sportslog_activities.pagination import CursorSigner
from sportslog_activities.settings import ActivitiesSettings
from sportslog_common.db import Pool
from sportslog_common.errors import InvalidToken
from sportslog_common.jwt import JwksVerifier, bearer_token


def _pool(request: Request) -> Pool:
    pool: Pool = request.app.state.pool
    return pool


def _settings(request: Request) -> ActivitiesSettings:
    settings: ActivitiesSettings = request.app.state.settings
    return settings


async def _current_user_id(
    request: Request, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> uuid.UUID:
    # The gateway verified the token already; we verify again and trust nobody's word.
    verifier: JwksVerifier = request.app.state.verifier
    claims = await verifier.verify(bearer_token(authorization))
    try:
        return uuid.UUID(claims.sub)
    except ValueError:
        raise InvalidToken("Token subject is malformed") from None


def _signer(request: Request) -> CursorSigner:
    signer: CursorSigner = request.app.state.cursor_signer
    return signer


def _importer(request: Request) -> Importer:
    importer: Importer = request.app.state.importer
    return importer


Db = Annotated[Pool, Depends(_pool)]
FileImporter = Annotated[Importer, Depends(_importer)]
Signer = Annotated[CursorSigner, Depends(_signer)]
Settings = Annotated[ActivitiesSettings, Depends(_settings)]
UserId = Annotated[uuid.UUID, Depends(_current_user_id)]
