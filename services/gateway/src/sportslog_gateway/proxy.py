"""Forwarding one request upstream through the process's pooled aiohttp session."""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

import aiohttp
import yarl
from fastapi import Request
from starlette.responses import StreamingResponse

from sportslog_common.errors import UpstreamTimeout, UpstreamUnavailable
from sportslog_common.http import request_id_of
from sportslog_common.jwt import AccessClaims
from sportslog_gateway.metrics import UPSTREAM_DURATION

# RFC 9110 §7.6.1 hop-by-hop headers, plus the ones the gateway sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-request-id",
    }
)
# Never relayed from the client: the gateway sets the credential it verified and the
# identity it verified it for, so no service ever reads a client's word for who it is.
IDENTITY_HEADERS = frozenset({"authorization", "x-user-id", "x-token-version"})
RESPONSE_SKIP = frozenset({*HOP_BY_HOP - {"content-length"}, "server", "date"})


def create_session(limit: int = 100, connect_timeout: float = 1.0) -> aiohttp.ClientSession:
    """One per process, made in the lifespan (DESIGN.md §8)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(connect=connect_timeout),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )


BUFFER_LIMIT = 64 * 1024
SPOOL_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Body:
    data: bytes | AsyncIterable[bytes]
    length: int | None = None  # set when the gateway measured a chunked body itself


async def _body(request: Request) -> Body:
    """Small bodies are read whole (so an idempotent request can be sent again); large ones
    with a declared length (imports) stream through as they arrive, held to the limit by
    that length. A chunked body of unknown size is spooled first (memory, then a temporary
    file): over the limit it is a 413 here and the upstream never sees a byte of it."""
    declared = request.headers.get("content-length")
    if declared is None and "transfer-encoding" not in request.headers:
        return Body(b"")  # no body at all (GET, DELETE...)
    if declared is not None and declared.isdigit() and int(declared) <= BUFFER_LIMIT:
        return Body(await request.body())
    if declared is not None:
        return Body(request.stream())
    spool = tempfile.SpooledTemporaryFile(max_size=BUFFER_LIMIT)  # noqa: SIM115 (closed by _replay)
    try:
        async for chunk in request.stream():  # the body limit raises 413 past the limit
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    length = spool.tell()
    if length <= BUFFER_LIMIT:
        spool.seek(0)
        with spool:
            return Body(spool.read())
    return Body(_replay(spool), length)


async def _replay(spool: tempfile.SpooledTemporaryFile[bytes]) -> AsyncIterator[bytes]:
    with spool:
        spool.seek(0)
        while chunk := spool.read(SPOOL_CHUNK):
            yield chunk


@dataclass(frozen=True)
class Credential:
    """What the gateway checked: the one Authorization value and, on a protected route, the
    identity it proved."""

    authorization: str | None
    claims: AccessClaims | None = None


def _forward_headers(
    request: Request, client_ip: str, credential: Credential, body: Body
) -> dict[str, str]:
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in IDENTITY_HEADERS
    }
    # The gateway is the trust boundary: it states who the client is, it doesn't relay claims.
    headers["X-Forwarded-For"] = client_ip
    headers["X-Forwarded-Proto"] = request.url.scheme
    headers["X-Request-ID"] = request_id_of(request)
    if credential.authorization is not None:
        headers["Authorization"] = credential.authorization
    if credential.claims is not None:
        headers["X-User-Id"] = credential.claims.sub
        headers["X-Token-Version"] = str(credential.claims.ver)
    if body.length is not None:
        headers["Content-Length"] = str(body.length)
    return headers


async def forward(
    session: aiohttp.ClientSession,
    request: Request,
    *,
    upstream_name: str,
    base_url: str,
    client_ip: str,
    credential: Credential,
    timeout: float,
) -> StreamingResponse:
    # The path exactly as the client sent it (already checked canonical), never re-encoded.
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = base_url.rstrip("/") + raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"")
    if query:
        url += "?" + query.decode("latin-1")
    body = await _body(request)
    started = time.perf_counter()
    try:
        # aiohttp sends an idempotent request again, once, when a kept-alive connection was
        # closed or reset before any answer (RFC 9112 §9.3.1.1); nothing else is retried,
        # so a POST that may have been acted on is never sent twice.
        upstream = await session.request(
            request.method,
            yarl.URL(url, encoded=True),
            headers=_forward_headers(request, client_ip, credential, body),
            data=body.data or None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=1.0),
        )
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise UpstreamTimeout(f"{upstream_name} did not answer in time") from None
    except aiohttp.ClientError:
        raise UpstreamUnavailable(f"{upstream_name} is unavailable") from None
    finally:
        UPSTREAM_DURATION.labels(upstream_name).observe(time.perf_counter() - started)

    response = StreamingResponse(_stream(upstream), status_code=upstream.status)
    # raw_headers keeps repeated headers (Set-Cookie) as they came.
    response.raw_headers.extend(
        (k.lower().encode("latin-1"), v.encode("latin-1"))
        for k, v in upstream.headers.items()
        if k.lower() not in RESPONSE_SKIP
    )
    return response


async def _stream(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    finally:
        # Also when the client went away mid-body: Starlette then skips background tasks.
        upstream.release()
