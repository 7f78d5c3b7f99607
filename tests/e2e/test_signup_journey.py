"""The walking skeleton's journey, end to end through the gateway only."""

import re
import time
import uuid

import jwt
import pytest

TOKEN_LINK = re.compile(r"https://app\.example/verify-email\?token=([A-Za-z0-9_\-]+)")


async def signup(gateway, smtp_server, email, password):
    r = await gateway.post("/auth/register", json={"email": email, "password": password})
    assert r.status_code == 202, r.text
    mail = await smtp_server.wait_for(email)
    token = TOKEN_LINK.search(mail.text()).group(1)
    r = await gateway.post("/auth/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    return token, r.json()


@pytest.mark.compose
async def test_register_verify_login_and_log_activities(gateway, smtp_server, new_email):
    email, password = new_email(), "a long enough secret"
    token, verified = await signup(gateway, smtp_server, email, password)
    assert verified["token_type"] == "bearer"
    assert verified["expires_in"] == 900
    assert verified["refresh_token"]
    # The verification link works once.
    again = await gateway.post("/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_or_expired_token"

    r = await gateway.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    jwks = (await gateway.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    assert kid in {k["kid"] for k in jwks["keys"]}

    created = []
    for day, kind in ((1, "run"), (3, "swim"), (2, "cycle")):
        body = {
            "activity_type": kind,
            "started_at": f"2026-06-0{day}T07:00:00+00:00",
            "duration_secs": 1800 + day,
            "distance_meters": 1000.0 * day,
        }
        r = await gateway.post("/activities", json=body, headers=headers)
        assert r.status_code == 201, r.text
        assert r.headers["location"] == f"/activities/{r.json()['id']}"
        created.append(r.json())

    page = await gateway.get("/activities", headers=headers)
    assert page.status_code == 200
    listing = page.json()
    assert [a["activity_type"] for a in listing["items"]] == ["swim", "cycle", "run"]
    assert listing["next_cursor"] is None

    first = await gateway.get("/activities", params={"limit": 2}, headers=headers)
    second = await gateway.get(
        "/activities", params={"limit": 2, "cursor": first.json()["next_cursor"]}, headers=headers
    )
    assert [a["activity_type"] for a in second.json()["items"]] == ["run"]

    one = await gateway.get(f"/activities/{created[0]['id']}", headers=headers)
    assert one.status_code == 200
    assert one.json() == created[0]
    assert one.headers["x-request-id"]


@pytest.mark.compose
async def test_activities_are_private(gateway, smtp_server, new_email):
    _, alice = await signup(gateway, smtp_server, new_email(), "alice's password")
    _, bob = await signup(gateway, smtp_server, new_email(), "bob's password!!")
    body = {"activity_type": "run", "started_at": "2026-06-01T07:00:00Z", "duration_secs": 60}
    r = await gateway.post(
        "/activities", json=body, headers={"Authorization": f"Bearer {alice['access_token']}"}
    )
    activity_id = r.json()["id"]
    bob_headers = {"Authorization": f"Bearer {bob['access_token']}"}
    assert (await gateway.get(f"/activities/{activity_id}", headers=bob_headers)).status_code == 404
    assert (await gateway.get("/activities", headers=bob_headers)).json()["items"] == []


def _claims(**overrides):
    now = int(time.time())
    base = {
        "sub": str(uuid.uuid4()),
        "email": "x@example.com",
        "ver": 0,
        "sid": str(uuid.uuid4()),
        "iss": "https://sportslog.example",
        "aud": "sportslog",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return base


async def test_gateway_refuses_bad_tokens(gateway, signing_key, stack, smtp_server, new_email):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, key = signing_key  # the real auth key: tokens below differ only in what is wrong
    jwks = (await gateway.get("/.well-known/jwks.json")).json()
    kid = jwks["keys"][0]["kid"]
    _, real = await signup(gateway, smtp_server, new_email(), "a long enough secret")
    who = jwt.decode(real["access_token"], options={"verify_signature": False})
    mine = {"sub": who["sub"], "sid": who["sid"]}
    good = jwt.encode(_claims(**mine), key, algorithm="EdDSA", headers={"kid": kid})
    nobody = jwt.encode(_claims(), key, algorithm="EdDSA", headers={"kid": kid})
    expired = jwt.encode(
        _claims(iat=int(time.time()) - 2000, exp=int(time.time()) - 1000),
        key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    head, body, sig = good.split(".")
    tampered = f"{head}.{body[:-4]}AAAA.{sig}"
    wrong_key = jwt.encode(
        _claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    refused_before = await _gateway_auth_failures(gateway)
    for headers in (
        {},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {tampered}"},
        {"Authorization": f"Bearer {wrong_key}"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": f"Bearer {nobody}"},  # well signed, but no such user (or deleted)
    ):
        r = await gateway.get("/activities", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["code"] == "invalid_token"
    # Refused by the gateway itself, not by activities' own check behind it.
    assert await _gateway_auth_failures(gateway) == refused_before + 6
    # The same key with good claims passes the gateway (and the service's own check).
    assert (
        await gateway.get("/activities", headers={"Authorization": f"Bearer {good}"})
    ).status_code == 200


async def _gateway_auth_failures(gateway) -> float:
    text = (await gateway.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sportslog_gateway_auth_failures_total{")
    )


@pytest.mark.compose
async def test_bad_input_through_the_gateway(gateway):
    r = await gateway.post(
        "/auth/register", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
    r = await gateway.post("/auth/register", json={"email": "a@example.com", "password": "p" * 200})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert r.json()["details"][0]["field"] == "body.password"
    r = await gateway.post("/auth/register", json={"email": ["x"], "password": 12345678})
    assert r.status_code == 422
    r = await gateway.get("/no/such/route")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = await gateway.get("/auth/register")
    assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
    r = await gateway.get("/internal/anything")
    assert r.status_code == 404


async def test_every_service_is_ready_and_exports_metrics(stack):
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        for service in ("auth", "activities", "notifier", "gateway"):
            ready = await client.get(f"{stack.url(service)}/ready")
            assert ready.status_code == 200, (service, ready.text)
            metrics = (await client.get(f"{stack.url(service)}/metrics")).text
            assert "process_resident_memory_bytes" in metrics


def _raw_get(port: int, raw_path: str) -> tuple[int, str]:
    """http.client sends the path as written; httpx would normalise the dot segments."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", raw_path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


async def test_dot_segments_cannot_walk_past_the_gateway(stack):
    import asyncio

    port = stack.ports["gateway"]
    for raw in (
        "/auth/../metrics",
        "/auth/%2e%2e/docs",
        "/auth/x/../../activities",
        "/.well-known/jwks.json/../../ready",
        "/auth/..%2finternal",
    ):
        status, body = await asyncio.to_thread(_raw_get, port, raw)
        assert status == 404, (raw, status, body)
        assert '"code":"not_found"' in body.replace(" ", "")


@pytest.mark.compose
async def test_import_export_and_stats_through_the_gateway(gateway, smtp_server, new_email):
    _, tokens = await signup(gateway, smtp_server, new_email(), "a long enough secret")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    gpx = (
        b'<?xml version="1.0"?><gpx version="1.1" creator="e2e" '
        b'xmlns="http://www.topografix.com/GPX/1/1"><trk><type>running</type><trkseg>'
        b'<trkpt lat="51.5" lon="-0.12"><time>2026-06-01T07:00:00Z</time></trkpt>'
        b'<trkpt lat="51.51" lon="-0.12"><time>2026-06-01T07:10:00Z</time></trkpt>'
        b"</trkseg></trk></gpx>"
    )
    r = await gateway.post("/activities/import", files={"file": ("run.gpx", gpx)}, headers=headers)
    assert r.status_code == 201, r.text
    activity = r.json()
    assert (activity["activity_type"], activity["duration_secs"]) == ("run", 600)
    again = await gateway.post(
        "/activities/import", files={"file": ("run.gpx", gpx)}, headers=headers
    )
    assert again.status_code == 409
    track = await gateway.get(f"/activities/{activity['id']}.gpx", headers=headers)
    assert track.headers["content-type"] == "application/gpx+xml"
    assert track.content.count(b"<trkpt") == 2
    csv_text = (await gateway.get("/activities/export.csv", headers=headers)).text
    assert activity["id"] in csv_text
    stats = (
        await gateway.get("/activities/stats", params={"group_by": "month"}, headers=headers)
    ).json()
    assert stats["periods"][0]["by_type"]["run"]["count"] == 1


@pytest.mark.compose
async def test_one_api_description_at_the_gateway(gateway):
    spec = (await gateway.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/auth/register",
        "/auth/login",
        "/auth/otp/verify",
        "/auth/sessions",
        "/me",
        "/me/preferences",
        "/activities",
        "/activities/{activity_id}",
        "/activities/stats",
        "/activities/import",
        "/.well-known/jwks.json",
    ):
        assert path in paths, path
    assert not [p for p in paths if p.startswith(("/internal", "/health", "/ready", "/metrics"))]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert paths["/activities"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in paths["/auth/login"]["post"]
    assert "ActivityIn" in spec["components"]["schemas"]
    docs = await gateway.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
