"""What the gateway hands an upstream: exactly the credential it verified, the identity it
verified it for, and never a partial body.

The upstream here is conftest's probe, which records each request it receives (and,
standing in for auth's internal endpoint as TokenMint stands in for its JWKS, says every
token is current).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_gateway.app import create_app


@pytest.fixture
async def through(settings, mint, probe) -> AsyncIterator[httpx.AsyncClient]:
    updated = settings.model_copy(update={"auth_url": probe.url, "activities_url": probe.url})
    app = create_app(updated, jwks_transport=mint.transport())
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            yield c


async def test_the_upstream_gets_the_verified_token_and_identity_never_the_clients(
    through, probe, mint
):
    user = uuid.uuid4()
    token = mint.token(user, ver=3)
    forged = {"X-User-Id": str(uuid.uuid4()), "X-Token-Version": "99"}
    r = await through.get("/activities", headers={"Authorization": f"Bearer {token}", **forged})
    assert r.status_code == 200
    assert probe.header("authorization") == [f"Bearer {token}"]
    assert probe.header("x-user-id") == [str(user)]
    assert probe.header("x-token-version") == ["3"]


async def test_client_identity_headers_are_stripped_on_public_routes(through, probe):
    r = await through.post(
        "/auth/login", json={}, headers={"X-User-Id": str(uuid.uuid4()), "X-Token-Version": "1"}
    )
    assert r.status_code == 200
    assert probe.header("x-user-id") == []
    assert probe.header("x-token-version") == []


@pytest.mark.parametrize("path", ["/activities", "/auth/refresh"])
async def test_two_credentials_are_refused_before_anything_is_forwarded(through, probe, mint, path):
    one, two = mint.headers()["Authorization"], mint.headers()["Authorization"]
    for headers in (
        [("Authorization", one), ("Authorization", two)],
        {"Authorization": f"{one}, {two}"},
    ):
        r = await through.post(path, json={}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_request")
    assert probe.seen == []


async def chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    """An unsized body: httpx sends it with Transfer-Encoding: chunked."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield b"x" * part
        sent += part


async def test_a_chunked_body_over_the_limit_is_413_and_never_reaches_the_upstream(through, probe):
    r = await through.post("/auth/register", content=chunks(5000))  # MAX_BODY_BYTES is 2048
    assert r.status_code == 413
    assert r.json() == {"error": "Request body is too large", "code": "payload_too_large"}
    r = await through.post("/auth/register", content=b"x" * 5000)  # a declared length, too
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    assert probe.seen == []


@pytest.mark.parametrize("size", [1500, 200_000], ids=["in-memory", "spooled-to-disk"])
async def test_a_chunked_body_within_the_limit_arrives_whole_with_its_length(
    settings, mint, probe, size
):
    updated = settings.model_copy(
        update={"auth_url": probe.url, "activities_url": probe.url, "max_import_bytes": 256_000}
    )
    app = create_app(updated, jwks_transport=mint.transport())
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
            r = await c.post("/activities/import", content=chunks(size), headers=mint.headers())
    assert r.status_code == 200
    assert probe.seen[-1].body == b"x" * size
    assert probe.header("content-length") == [str(size)]
    assert probe.header("transfer-encoding") == []
