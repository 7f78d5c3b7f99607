from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sportslog_auth.deps import Jwks

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json")
async def jwks(keys: Jwks, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return keys
