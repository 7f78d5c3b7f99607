from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from sportslog_auth.deps import Client, SessionsDep, User
from sportslog_auth.errors import SessionNotFound
from sportslog_auth.schemas import RefreshRequest, SessionsResponse, TokenResponse
from sportslog_common.errors import InvalidToken

router = APIRouter(prefix="/auth", tags=["sessions"], responses=InvalidToken.openapi())


@router.post("/refresh")
async def refresh(body: RefreshRequest, sessions: SessionsDep, client: Client) -> TokenResponse:
    return await sessions.refresh(body.refresh_token, client)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(sessions: SessionsDep, user: User) -> None:
    await sessions.logout(user)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(sessions: SessionsDep, user: User) -> None:
    await sessions.logout_others(user)


@router.get("/sessions")
async def list_sessions(sessions: SessionsDep, user: User) -> SessionsResponse:
    return await sessions.list(user)


@router.delete(
    "/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=SessionNotFound.openapi(),
)
async def delete_session(session_id: uuid.UUID, sessions: SessionsDep, user: User) -> None:
    await sessions.delete(user, session_id)
