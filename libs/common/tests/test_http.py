from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from sportslog_common.errors import NotFound
from sportslog_common.service import build_app


class Item(BaseModel):
    name: str = Field(min_length=1)
    count: int


@asynccontextmanager
async def _lifespan(app: FastAPI):
    yield


def make_app() -> FastAPI:
    app = build_app("test", _lifespan, max_body_bytes=100)

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.get("/items/{item_id}")
    async def get(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise NotFound("No such item")
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_unknown_route_is_json_404(client):
    r = await client.get("/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "Not found", "code": "not_found"}


async def test_wrong_method_is_json_405(client):
    r = await client.delete("/items")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


async def test_malformed_json_is_400(client):
    r = await client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_json"


async def test_validation_error_lists_field_paths(client):
    r = await client.post("/items", json={"name": "", "count": "many"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error"
    fields = {d["field"] for d in body["details"]}
    assert fields == {"body.name", "body.count"}


async def test_path_parameter_error_names_the_path(client):
    r = await client.get("/items/abc")
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "path.item_id"


async def test_app_error_renders_its_code(client):
    r = await client.get("/items/0")
    assert r.status_code == 404
    assert r.json() == {"error": "No such item", "code": "not_found"}


async def test_unhandled_error_is_json_500_without_internals(client):
    r = await client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert r.status_code == 500
    assert r.json() == {"error": "Internal server error", "code": "internal_error"}
    assert r.headers["x-request-id"] == "req-500"


async def test_body_over_limit_is_413_by_content_length(client):
    r = await client.post(
        "/items", content=b"x" * 101, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_streamed_body_over_limit_is_413(client):
    async def chunks():
        for _ in range(5):
            yield b"x" * 40

    r = await client.post("/items", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_request_id_is_echoed_or_generated(client):
    r = await client.get("/items/1", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = (await client.get("/items/1")).headers["x-request-id"]
    assert len(generated) == 32
    # A hostile request id (header injection, huge) is replaced, not echoed.
    r = await client.get("/items/1", headers={"X-Request-ID": "a" * 500})
    assert r.headers["x-request-id"] != "a" * 500


async def test_errors_carry_request_id_and_security_headers(client):
    r = await client.get("/nope")
    assert r.headers["x-request-id"]
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_health_and_metrics(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).status_code == 200
    await client.get("/items/7")
    text = (await client.get("/metrics")).text
    assert (
        'http_requests_total{method="GET",route="/items/{item_id}",service="test",status="200"}'
        in text
    )
    assert "/items/7" not in text
    assert "process_resident_memory_bytes" in text
