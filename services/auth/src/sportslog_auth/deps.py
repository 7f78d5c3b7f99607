"""Annotated dependencies: a handler's signature states what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sportslog_auth.context import AuthContext, ClientInfo


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


Ctx = Annotated[AuthContext, Depends(_context)]
Client = Annotated[ClientInfo, Depends(_client)]
