"""`/health` (alive), `/ready` (dependencies answer) and `/metrics` for every service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from sportslog_common.metrics import metrics_endpoint

ReadyCheck = Callable[[], Awaitable[None]]
"""Raises (or times out) when its dependency is not reachable."""

CHECK_TIMEOUT_SECONDS = 2.0

router = APIRouter(include_in_schema=False)


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, ReadyCheck] = getattr(request.app.state, "ready_checks", {})
    results = await asyncio.gather(*(_run(check) for check in checks.values()))
    status = dict(zip(checks, results, strict=True))
    failing = [name for name, result in status.items() if result != "ok"]
    if failing:
        body = {
            "error": f"Not ready: {', '.join(failing)} unreachable",
            "code": "not_ready",
            "details": status,
        }
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "checks": status})


async def _run(check: ReadyCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return await metrics_endpoint(request)
