"""CORS with refusals in the error format (DESIGN.md §4, §9): a preflight from an origin not
in CORS_ORIGINS is 403 `cors_origin_not_allowed`, a disallowed method or header 400
`invalid_request`, as JSON and with no Access-Control-Allow-* header a browser could use."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response

from sportslog_common.errors import AppError, CorsOriginNotAllowed, InvalidRequest


class JsonCorsMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        error: AppError
        if not self.is_allowed_origin(origin=request_headers["origin"]):
            error = CorsOriginNotAllowed()
        else:
            error = InvalidRequest("This cross-origin method or header is not allowed")
        return JSONResponse(error.body(), status_code=error.status, headers={"Vary": "Origin"})
