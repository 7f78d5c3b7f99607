import pytest
from prometheus_client import REGISTRY

from sportslog_gateway.upstreams import route_for


@pytest.mark.parametrize(
    ("path", "upstream", "protected"),
    [
        ("/auth/register", "auth", False),
        ("/auth/login", "auth", False),
        ("/auth/callback/google", "auth", False),
        ("/auth/sessions", "auth", True),
        ("/auth/sessions/123", "auth", True),
        ("/auth/logout", "auth", True),
        ("/auth/logout-all", "auth", True),
        ("/.well-known/jwks.json", "auth", False),
        ("/me", "auth", True),
        ("/me/profile", "auth", True),
        ("/activities", "activities", True),
        ("/activities/abc", "activities", True),
        ("/activities/stats", "activities", True),
    ],
)
def test_routing_table(path, upstream, protected):
    route = route_for(path)
    assert route is not None
    assert (route.upstream, route.protected) == (upstream, protected)


@pytest.mark.parametrize(
    "path", ["/internal/users/1", "/", "/mean", "/activitiesx", "/auth", "/.well-known/other"]
)
def test_unrouted_paths(path):
    assert route_for(path) is None


async def test_unrouted_path_is_json_404(client):
    r = await client.get("/internal/token-state")
    assert r.status_code == 404
    assert r.json() == {"error": "Not found", "code": "not_found"}


def failures(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("sportslog_gateway_auth_failures_total", {"reason": reason})
        or 0.0
    )


@pytest.mark.parametrize(
    ("make_headers", "reason"),
    [
        (lambda mint: {}, "missing"),
        (lambda mint: {"Authorization": "Basic abc"}, "missing"),
        (lambda mint: {"Authorization": "Bearer not.a.jwt"}, "malformed"),
        (lambda mint: mint.headers(exp=1000, iat=500), "expired"),
        (lambda mint: mint.headers(aud="other"), "invalid"),
        (lambda mint: {"Authorization": "Bearer " + mint.token()[:-6] + "AAAAAA"}, "invalid"),
        (lambda mint: {"Authorization": "Bearer " + _other_key_token(mint)}, "unknown_key"),
    ],
)
async def test_protected_routes_refuse_bad_tokens_before_any_upstream(
    client, mint, make_headers, reason
):
    # The upstreams are down: a 401 (not a 503) proves the refusal happened at the gateway.
    before = failures(reason)
    r = await client.get("/activities", headers=make_headers(mint))
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
    assert failures(reason) == before + 1


def _other_key_token(mint):
    from sportslog_testing.tokens import TokenMint

    return TokenMint(issuer=mint.issuer, audience=mint.audience).token()


async def test_upstream_down_is_503(client, mint):
    r = await client.get("/activities", headers=mint.headers())
    assert r.status_code == 503
    assert r.json()["code"] == "upstream_unavailable"
    r = await client.post("/auth/login", json={"email": "a@example.com", "password": "x"})
    assert r.status_code == 503


async def test_body_limits(client, mint):
    r = await client.post(
        "/auth/register", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    # The import route has its own, larger limit: this body passes the door (then 503 here).
    r = await client.post("/activities/import", content=b"x" * 4096, headers=mint.headers())
    assert r.status_code == 503


async def test_gateway_health_and_headers(client):
    r = await client.get("/health", headers={"X-Request-ID": "gw-1"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "gw-1"
    assert r.headers["x-frame-options"] == "DENY"
    assert (await client.get("/ready")).status_code == 200
