"""The catch-all: every other path is rate limited, routed by upstreams.py, its token
checked when the route is protected, and forwarded. Included last, after every fixed route."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from sportslog_common.errors import NotFound
from sportslog_gateway import proxy
from sportslog_gateway.auth import require_token, single_authorization
from sportslog_gateway.clients import client_ip
from sportslog_gateway.deps import Ctx
from sportslog_gateway.upstreams import route_for

PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

router = APIRouter()


@router.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
async def gateway(request: Request, ctx: Ctx) -> Response:
    client = client_ip(request, ctx.trusted_proxies)
    limit_headers = await ctx.limits.hit(request.method, request.url.path, client)
    route = route_for(request.url.path, request.scope.get("raw_path"))
    if route is None:
        raise NotFound()
    request.scope.setdefault("state", {})["route_template"] = route.template
    credential = proxy.Credential(single_authorization(request))
    if route.protected:
        claims = await require_token(ctx.verifier, ctx.revocations, credential.authorization)
        credential = proxy.Credential(credential.authorization, claims)
    response = await proxy.forward(
        ctx.session,
        request,
        upstream_name=route.upstream,
        base_url=ctx.upstream_urls[route.upstream],
        client_ip=client,
        credential=credential,
        timeout=ctx.settings.upstream_timeout_seconds,
    )
    response.headers.update(limit_headers)
    return response
