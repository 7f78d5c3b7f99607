"""Annotated dependencies: a handler's signature states what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sportslog_gateway.context import GatewayContext
from sportslog_gateway.openapi import OpenApiMerger


# async: FastAPI runs a plain `def` dependency in its thread pool, a hop per proxied request.
async def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


Ctx = Annotated[GatewayContext, Depends(_ctx)]


async def _openapi(ctx: Ctx) -> OpenApiMerger:
    return ctx.openapi


Merger = Annotated[OpenApiMerger, Depends(_openapi)]
