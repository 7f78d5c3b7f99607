import json
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI

from sportslog_common.logging import configure_logging, redact
from sportslog_common.service import build_app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    yield


def make_logging_app() -> FastAPI:
    app = build_app("test", _lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        structlog.get_logger().info("hello")
        return {}

    return app


def test_redact_hides_secret_keys_recursively():
    data = {"email": "a@b.c", "password": "hunter2", "nested": {"refresh_token": "x"}}
    assert redact(data) == {
        "email": "a@b.c",
        "password": "[redacted]",
        "nested": {"refresh_token": "[redacted]"},
    }


def test_json_log_line_has_request_id_and_no_secret(capsys):
    configure_logging("test", "INFO", "json")
    with structlog.contextvars.bound_contextvars(request_id="rid-1"):
        structlog.get_logger().info("login", email="a@b.c", password="hunter2", token="t0k")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["request_id"] == "rid-1"
    assert line["service"] == "test"
    assert line["event"] == "login"
    assert "hunter2" not in json.dumps(line)
    assert "t0k" not in json.dumps(line)


async def test_request_logs_carry_the_request_id(capsys):
    configure_logging("test", "INFO", "json")
    transport = httpx.ASGITransport(app=make_logging_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/hello", headers={"X-Request-ID": "rid-42"})
    lines = [
        json.loads(x) for x in capsys.readouterr().out.strip().splitlines() if x.startswith("{")
    ]
    assert any(line.get("event") == "hello" and line["request_id"] == "rid-42" for line in lines)
    access = [line for line in lines if line.get("event") == "request"]
    assert access == [
        {**access[0], "method": "GET", "route": "/hello", "status": 200, "request_id": "rid-42"}
    ]


async def test_unhandled_error_is_logged_with_request_id_and_without_its_message(capsys):
    app = build_app("test", _lifespan)

    @app.get("/boom")
    async def boom() -> None:
        secret = "".join(["hun", "ter2"])  # a runtime value, as a driver would quote it
        raise ValueError(f"invalid input: password={secret}")

    configure_logging("test", "INFO", "json")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/boom", headers={"X-Request-ID": "rid-500"})
    assert r.status_code == 500
    out = capsys.readouterr().out
    assert "hunter2" not in out
    lines = [json.loads(x) for x in out.strip().splitlines() if x.startswith("{")]
    error = next(line for line in lines if line["event"] == "unhandled_error")
    assert error["request_id"] == "rid-500"
    assert "builtins.ValueError" in error["exception"]
    assert "test_logging.py" in error["exception"]  # the traceback is still there
