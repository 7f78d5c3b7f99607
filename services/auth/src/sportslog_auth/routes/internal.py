"""Endpoints for the other services only: every call is signed with INTERNAL_API_KEY
(sportslog_common.internal_auth), else 401. The gateway never routes `/internal/` to
clients (services/gateway upstreams.py), and auth is not published outside the stack's
network, but neither is what protects them."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from sportslog_auth.deps import SessionsDep, require_internal_call
from sportslog_auth.errors import UserNotFound
from sportslog_auth.schemas import TokenState

router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    include_in_schema=False,
    dependencies=[Depends(require_internal_call)],
)


@router.get("/users/{user_id}/token-state", responses=UserNotFound.openapi())
async def token_state(user_id: uuid.UUID, sessions: SessionsDep) -> TokenState:
    """The gateway fills its revocation cache from this on a miss."""
    return await sessions.token_state(user_id)
