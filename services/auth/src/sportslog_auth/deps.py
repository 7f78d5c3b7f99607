"""Annotated dependencies: a handler's signature states what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.sessions import CurrentUser, authenticate
from sportslog_common.errors import InvalidToken
from sportslog_common.internal_auth import HEADER, InternalAuth
from sportslog_common.jwt import bearer_token


def _context(request: Request) -> AuthContext:
    ctx: AuthContext = request.app.state.ctx
    return ctx


def _client(request: Request) -> ClientInfo:
    # Auth is reached only through the gateway, which appends the client to X-Forwarded-For.
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    ip = hops[-1] if hops else (request.client.host if request.client else None)
    user_agent = request.headers.get("user-agent")
    return ClientInfo(user_agent=user_agent[:512] if user_agent else None, ip=ip)


def require_internal_call(request: Request) -> None:
    """Auth's `/internal/` endpoints answer only a call signed with INTERNAL_API_KEY."""
    internal: InternalAuth = request.app.state.internal_auth
    if not internal.verify(request.headers.get(HEADER), request.method, request.url.path):
        raise InvalidToken("Missing or invalid internal credential", reason="internal")


async def _current_user(
    ctx: Annotated[AuthContext, Depends(_context)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> CurrentUser:
    return await authenticate(ctx, bearer_token(authorization))


Ctx = Annotated[AuthContext, Depends(_context)]
User = Annotated[CurrentUser, Depends(_current_user)]
Client = Annotated[ClientInfo, Depends(_client)]
