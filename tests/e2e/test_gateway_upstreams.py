"""The gateway against upstreams that fail: down (503) and back, killed with SIGKILL (503)
and restarted, a dropped keep-alive connection (retried for idempotent requests), and a
slow upstream (504). Each test runs an extra gateway process whose activities upstream
goes through something we control."""

import asyncio
import contextlib
import dataclasses

import httpx
import jwt
import pytest

from sportslog_testing import devstack, free_port, wait_until
from sportslog_testing.tcp_proxy import TcpProxy


@pytest.fixture
async def extra_gateway(stack, tmp_path):
    started = []

    async def start(activities_url: str, timeout: float = 10.0) -> str:
        port = free_port()
        config = dataclasses.replace(
            stack,
            ports={**stack.ports, "gateway": port},
            extra_env={
                **stack.extra_env,
                "ACTIVITIES_URL": activities_url,
                "UPSTREAM_TIMEOUT_SECONDS": str(timeout),
            },
        )
        processes = devstack.start(config, tmp_path, services=("gateway",))
        started.append(processes)
        await devstack.wait_ready(config, processes, timeout=30)
        return config.url("gateway")

    yield start
    for processes in started:
        devstack.stop(processes)


@pytest.fixture
async def token(gateway, smtp_server, new_email):
    import re

    email = new_email()
    await gateway.post("/auth/register", json={"email": email, "password": "a long enough secret"})
    mail = await smtp_server.wait_for(email)
    token = re.search(r"token=([A-Za-z0-9_\-]+)", mail.text()).group(1)
    tokens = (await gateway.post("/auth/verify-email", json={"token": token})).json()
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_upstream_down_then_back(stack, extra_gateway, token):
    proxy = TcpProxy("127.0.0.1", stack.ports["activities"])
    await proxy.start()
    url = await extra_gateway(f"http://127.0.0.1:{proxy.port}")
    async with httpx.AsyncClient(base_url=url, headers=token, timeout=10) as client:
        assert (await client.get("/activities")).status_code == 200
        await proxy.cut()
        down = await client.get("/activities")
        assert (down.status_code, down.json()["code"]) == (503, "upstream_unavailable")
        await proxy.restore()

        async def back():
            return (await client.get("/activities")).status_code == 200

        await wait_until(back, timeout=10, message="the upstream back")
    await proxy.stop()


async def test_upstream_killed_then_restarted(stack, extra_gateway, token, tmp_path):
    # A replica of activities (the stack's database and queue) that dies with SIGKILL.
    config = dataclasses.replace(stack, ports={**stack.ports, "activities": free_port()})
    replicas = []

    async def start_replica():
        replicas.append(devstack.start(config, tmp_path, services=("activities",)))
        await devstack.wait_ready(config, replicas[-1], timeout=30)
        return replicas[-1]["activities"]

    try:
        replica = await start_replica()
        url = await extra_gateway(config.url("activities"))
        async with httpx.AsyncClient(base_url=url, headers=token, timeout=10) as client:
            assert (await client.get("/activities")).status_code == 200
            replica.kill()
            replica.wait()
            down = await client.get("/activities")
            assert (down.status_code, down.json()["code"]) == (503, "upstream_unavailable")
            await start_replica()
            assert (await client.get("/activities")).status_code == 200
    finally:
        for processes in replicas:
            devstack.stop(processes)


async def test_a_dropped_connection_is_retried_only_for_idempotent_requests(
    stack, extra_gateway, token
):
    proxy = TcpProxy("127.0.0.1", stack.ports["activities"])
    await proxy.start()
    url = await extra_gateway(f"http://127.0.0.1:{proxy.port}")
    body = {"activity_type": "run", "started_at": "2026-06-01T07:00:00Z", "duration_secs": 60}
    async with httpx.AsyncClient(base_url=url, headers=token, timeout=10) as client:
        # The upstream hangs up once, unanswered: a GET is sent again and succeeds...
        proxy.drop_next(1)
        assert (await client.get("/activities")).status_code == 200
        # ...a POST is not (it might have been acted on): the client decides. (Kill the
        # pooled connection first, so the POST needs the new one that will be dropped.)
        await proxy.cut()
        await proxy.restore()
        proxy.drop_next(1)
        r = await client.post("/activities", json=body)
        assert (r.status_code, r.json()["code"]) == (503, "upstream_unavailable")
        assert (await client.get("/activities")).json()["items"] == []
    await proxy.stop()


async def test_slow_upstream_is_504(extra_gateway, token):
    async def never_answer(reader, writer):
        try:
            with contextlib.suppress(Exception):
                await reader.read()  # holds the connection open, says nothing
        finally:
            writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = await extra_gateway(f"http://127.0.0.1:{port}", timeout=0.5)
    async with httpx.AsyncClient(base_url=url, headers=token, timeout=10) as client:
        r = await client.get("/activities")
        assert (r.status_code, r.json()["code"]) == (504, "upstream_timeout")
    server.close()
    await server.wait_closed()
