"""Annotated dependencies: a handler's signature states what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sportslog_gateway.context import GatewayContext
from sportslog_gateway.openapi import OpenApiMerger


def _ctx(request: Request) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


Ctx = Annotated[GatewayContext, Depends(_ctx)]


def _openapi(ctx: Ctx) -> OpenApiMerger:
    return ctx.openapi


Merger = Annotated[OpenApiMerger, Depends(_openapi)]
