from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from sportslog_auth import sessions
from sportslog_auth.deps import Client, Ctx, User
from sportslog_auth.errors import SessionNotFound
from sportslog_auth.schemas import RefreshRequest, SessionsResponse, TokenResponse
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/auth", tags=["sessions"], responses=InvalidToken.openapi())


@router.post("/refresh")
async def refresh(body: RefreshRequest, ctx: Ctx, client: Client) -> TokenResponse:
    return await sessions.refresh(ctx, body.refresh_token, client)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(ctx: Ctx, user: User) -> None:
    await sessions.logout(ctx, user)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(ctx: Ctx, user: User) -> None:
    await sessions.logout_others(ctx, user)


@router.get("/sessions")
async def list_sessions(ctx: Ctx, user: User) -> SessionsResponse:
    return await sessions.list_sessions(ctx, user)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=SessionNotFound.openapi(),
)
async def delete_session(session_id: uuid.UUID, ctx: Ctx, user: User) -> None:
    await sessions.delete_session(ctx, user, session_id)
