"""Rate limits, CORS, security headers and who the client is."""

import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from sportslog_gateway.app import create_app


@pytest.fixture
async def make_client(settings, mint):
    apps = []

    async def make(**overrides):
        app = create_app(settings.model_copy(update=overrides), jwks_transport=mint.transport())
        manager = LifespanManager(app, startup_timeout=30, shutdown_timeout=30)
        await manager.__aenter__()
        apps.append(manager)
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=("203.0.113.7", 5000)
        )
        return httpx.AsyncClient(transport=transport, base_url="http://gateway")

    yield make
    for manager in apps:
        await manager.__aexit__(None, None, None)


async def test_sensitive_routes_have_a_tighter_limit(make_client):
    client = await make_client(rate_limit_auth="3/minute", rate_limit_default="100/minute")
    before = (
        REGISTRY.get_sample_value("sportslog_gateway_rate_limited_total", {"rule": "auth"}) or 0
    )
    codes = [(await client.post("/auth/login", json={})).status_code for _ in range(4)]
    assert codes[:3] == [503, 503, 503]  # through the limit (auth itself is down here)
    assert codes[3] == 429
    r = await client.post("/auth/otp/verify", json={})
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 61
    assert r.headers["ratelimit-limit"] == "3"
    assert r.headers["ratelimit-remaining"] == "0"
    # Other routes still answer: only the sensitive rule is exhausted.
    assert (await client.get("/activities")).status_code == 401
    after = REGISTRY.get_sample_value("sportslog_gateway_rate_limited_total", {"rule": "auth"})
    assert after == before + 2


async def test_provider_sign_in_routes_count_as_sensitive(make_client):
    client = await make_client(rate_limit_auth="1/minute", rate_limit_default="100/minute")
    assert (await client.get("/auth/login/google")).status_code == 503  # auth is down here
    for method, path in (
        ("GET", "/auth/login/google"),
        ("GET", "/auth/callback/google?code=x&state=y"),
        ("POST", "/auth/oauth/exchange"),
    ):
        r = await client.request(method, path)
        assert r.status_code == 429, path


# Signed-in routes that send an SMS or a mail, or set where the next SMS goes (issue 16, 3).
SIGNED_IN_SENDERS = [
    ("POST", "/me/phone/verify-request"),
    ("POST", "/me/phone/verify"),
    ("PUT", "/me/profile"),
    ("PUT", "/me/password"),
    ("DELETE", "/me"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_IN_SENDERS)
async def test_signed_in_senders_have_the_tighter_limit(make_client, probe, mint, method, path):
    client = await make_client(
        auth_url=probe.url, rate_limit_auth="3/minute", rate_limit_default="100/minute"
    )
    headers = mint.headers(uuid.uuid4())
    answers = [await client.request(method, path, json={}, headers=headers) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    refused = answers[3]
    assert refused.json() == {"error": "Too many requests", "code": "rate_limited"}
    assert 1 <= int(refused.headers["retry-after"]) <= 61
    assert refused.headers["ratelimit-limit"] == "3"
    assert [seen.path for seen in probe.seen] == [path] * 3  # the refused one never left
    assert (await client.get("/me", headers=headers)).status_code == 200


async def test_phone_code_and_number_change_share_one_budget_reads_do_not(make_client, probe, mint):
    client = await make_client(
        auth_url=probe.url, rate_limit_auth="2/minute", rate_limit_default="100/minute"
    )
    headers = mint.headers(uuid.uuid4())
    for _ in range(2):
        r = await client.post("/me/phone/verify-request", headers=headers)
        assert r.status_code == 200
    for method, path, body in (
        ("POST", "/me/phone/verify-request", None),
        ("PUT", "/me/profile", {"phone_number": "+442079460958"}),
    ):
        r = await client.request(method, path, json=body, headers=headers)
        assert (r.status_code, r.json()["code"]) == (429, "rate_limited"), path
        assert int(r.headers["retry-after"]) >= 1
    # The same client's reads and other /me writes stay under the default limit only.
    for method, path in (
        ("GET", "/me"),
        ("GET", "/me"),
        ("GET", "/me"),
        ("PUT", "/me/preferences"),
        ("DELETE", "/me/connections/google"),
    ):
        r = await client.request(method, path, headers=headers)
        assert r.status_code == 200, path
        assert r.headers["ratelimit-limit"] == "100"
    assert len(probe.seen) == 2 + 5


async def test_global_limit_per_client(make_client):
    client = await make_client(rate_limit_default="5/minute")
    codes = [(await client.get("/activities")).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]
    assert (await client.get("/health")).status_code == 200  # the gateway's own routes are free


async def test_x_forwarded_for_only_from_a_trusted_proxy(make_client):
    spoofing = await make_client(rate_limit_default="2/minute")
    for ip in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):  # a client inventing new addresses
        r = await spoofing.get("/activities", headers={"X-Forwarded-For": ip})
    assert r.status_code == 429  # still counted as 203.0.113.7

    behind = await make_client(rate_limit_default="2/minute", trusted_proxies="203.0.113.0/24")
    for ip in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        r = await behind.get("/activities", headers={"X-Forwarded-For": f"{ip}, 203.0.113.9"})
        assert r.status_code == 401, ip  # three different clients behind our proxy


async def test_cors_preflight_allowed_and_refused(make_client):
    client = await make_client(cors_origins="https://app.example, https://admin.example")
    ok = await client.options(
        "/activities",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "idempotency-key" in ok.headers["access-control-allow-headers"].lower()
    refused = await client.options(
        "/activities",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "This origin may not call the API",
        "code": "cors_origin_not_allowed",
    }
    assert not [h for h in refused.headers if h.startswith("access-control-allow-")]
    bad_header = await client.options(
        "/activities",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-not-allowed",
        },
    )
    assert (bad_header.status_code, bad_header.json()["code"]) == (400, "invalid_request")
    assert not [h for h in bad_header.headers if h.startswith("access-control-allow-")]
    # An actual request from an allowed origin: errors are readable by the page too.
    r = await client.get("/activities", headers={"Origin": "https://app.example"})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()


async def test_security_headers_and_hsts(make_client):
    plain = await make_client()
    r = await plain.get("/nope")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "strict-transport-security" not in r.headers
    https = await make_client(hsts_max_age=31536000)
    r = await https.get("/health")
    assert r.headers["strict-transport-security"] == "max-age=31536000"


def test_bad_limits_and_proxies_refuse_to_start(settings):
    from pydantic import ValidationError

    from sportslog_gateway.settings import GatewaySettings

    base = settings.model_dump()
    for bad in ({"rate_limit_auth": "lots"}, {"trusted_proxies": "not-an-ip"}):
        with pytest.raises(ValidationError):
            GatewaySettings(**{**base, **bad})


async def test_replicas_share_limits_through_redis(make_client):
    import os
    import uuid

    redis = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
    # Two gateway replicas, one Redis; a client address unique to this run keeps parallel
    # runs apart (the proxy in front of both replicas is trusted).
    client_ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    headers = {"X-Forwarded-For": client_ip}
    common = {
        "rate_limit_storage": redis,
        "rate_limit_default": "3/minute",
        "trusted_proxies": "203.0.113.0/24",
    }
    first, second = await make_client(**common), await make_client(**common)
    codes = [
        (await replica.get("/activities", headers=headers)).status_code
        for replica in (first, second, first, second)
    ]
    assert codes == [401, 401, 401, 429]
