"""The merged API description and its Swagger UI, served by the gateway itself."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from sportslog_gateway.deps import Merger

DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def openapi(merger: Merger) -> JSONResponse:
    return JSONResponse(await merger.document())


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="sports-log API")
    # Swagger UI's own script and styles come from its CDN; nothing else may load.
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page
