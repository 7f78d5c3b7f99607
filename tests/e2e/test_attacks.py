"""One user against another's data, through the gateway: every activity route that takes an
id answers 404 (never 403, never anything that tells "exists, not yours" from "no such
activity"), nothing the intruder does changes the owner's data, and nothing the owner has
shows up in the intruder's listing, stats, export, cursors, idempotency keys or duplicates.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import jwt
import pytest

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
PASSWORD = "a long enough secret"
# Headers that differ between any two responses, whoever asks about whatever.
VOLATILE = {"date", "x-request-id", "ratelimit-remaining", "ratelimit-reset"}

OWNERS_ACTIVITY = {
    "activity_type": "owners_secret_sport",
    "started_at": "2026-03-01T06:00:00Z",
    "duration_secs": 1800,
    "distance_meters": 5000.0,
    "calories": 400,
    "notes": "the owner's private notes",
    "source": "garmin",
    "external_id": "garmin-42",
    "device_data": {
        "track": [
            {"lat": 51.5, "lon": -0.12, "ele": 11.0, "time": "2026-03-01T06:00:00Z"},
            {"lat": 51.51, "lon": -0.13, "ele": 12.0, "time": "2026-03-01T06:30:00Z"},
        ]
    },
}
REPLACEMENT = {
    "activity_type": "run",
    "started_at": "2026-03-02T06:00:00Z",
    "duration_secs": 60,
    "notes": "written by someone",
}
GPX = b"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="attack-test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><type>running</type><trkseg>
    <trkpt lat="48.85" lon="2.35"><time>2026-04-01T07:00:00Z</time></trkpt>
    <trkpt lat="48.86" lon="2.36"><time>2026-04-01T07:20:00Z</time></trkpt>
  </trkseg></trk>
</gpx>
"""


def _if_match(etag: str) -> dict[str, str]:
    return {"If-Match": etag}


# Every activities route with an id in its path, and a request that succeeds for the owner
# (given the activity's current ETag). A route added to the service without an entry here
# fails test_every_id_route_is_covered.
ID_ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/activities/{activity_id}"): {},
    ("GET", "/activities/{activity_id}.gpx"): {},
    ("PATCH", "/activities/{activity_id}"): {"json": {"notes": "patched by someone"}},
    ("PUT", "/activities/{activity_id}"): {"json": REPLACEMENT},
    ("DELETE", "/activities/{activity_id}"): {},
}
OWNER_STATUS = {"GET": 200, "PATCH": 200, "PUT": 200, "DELETE": 204}


async def signup(gateway: httpx.AsyncClient, smtp_server, email: str) -> dict[str, str]:
    r = await gateway.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 202
    mail = await smtp_server.wait_for(email)
    r = await gateway.post("/auth/verify-email", json={"token": TOKEN.search(mail.text()).group(1)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _stable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    return response.status_code, headers, response.content


def _path(template: str, activity_id: str) -> str:
    return template.replace("{activity_id}", activity_id)


@pytest.fixture
async def owner(gateway, smtp_server, new_email) -> dict[str, str]:
    return await signup(gateway, smtp_server, new_email())


@pytest.fixture
async def intruder(gateway, smtp_server, new_email) -> dict[str, str]:
    return await signup(gateway, smtp_server, new_email())


async def test_every_id_route_is_covered(stack):
    """The routes come from the activities service's own OpenAPI document, so a new route
    that takes an id cannot be left out of the cross-user test below."""
    async with httpx.AsyncClient(base_url=stack.url("activities"), timeout=15) as client:
        document = (await client.get("/openapi.json")).json()
    with_id = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        if "{" in path
        for method in operations
    }
    assert with_id == set(ID_ROUTES)


async def test_another_users_activity_is_not_found_on_every_route(gateway, owner, intruder):
    r = await gateway.post("/activities", json=OWNERS_ACTIVITY, headers=owner)
    assert r.status_code == 201, r.text
    original, etag = r.json(), r.headers["etag"]
    activity_id = original["id"]
    unknown_id = str(uuid.uuid4())

    for (method, template), request in ID_ROUTES.items():
        # Even holding the owner's current ETag (a stale read, a leaked log line).
        headers = {**intruder, **(_if_match(etag) if method != "GET" else {})}
        theirs = await gateway.request(
            method, _path(template, activity_id), headers=headers, **request
        )
        missing = await gateway.request(
            method, _path(template, unknown_id), headers=headers, **request
        )
        assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found"), (method, template)
        assert set(theirs.json()) <= {"error", "code", "details"}
        # Indistinguishable from an id that does not exist (the id itself aside).
        assert _stable(theirs) == _stable(missing), (method, template)

    # The owner's activity is exactly as it was.
    r = await gateway.get(f"/activities/{activity_id}", headers=owner)
    assert (r.status_code, r.json(), r.headers["etag"]) == (200, original, etag)

    # And every one of those requests works for the owner: the 404s above were about who
    # asked, not about a malformed request.
    for (method, template), request in ID_ROUTES.items():
        headers = {**owner, **(_if_match(etag) if method != "GET" else {})}
        r = await gateway.request(method, _path(template, activity_id), headers=headers, **request)
        assert r.status_code == OWNER_STATUS[method], (method, template, r.text)
        etag = r.headers.get("etag", etag)
    assert (await gateway.get(f"/activities/{activity_id}", headers=owner)).status_code == 404


async def test_the_owners_data_never_shows_in_the_intruders_views(gateway, owner, intruder):
    owned = [
        (await gateway.post("/activities", json=OWNERS_ACTIVITY, headers=owner)).json(),
        (
            await gateway.post(
                "/activities",
                json={**OWNERS_ACTIVITY, "external_id": "garmin-43", "duration_secs": 900},
                headers=owner,
            )
        ).json(),
    ]
    mine = {"activity_type": "run", "started_at": "2026-03-01T08:00:00Z", "duration_secs": 600}
    r = await gateway.post("/activities", json=mine, headers=intruder)
    assert r.status_code == 201
    my_id = r.json()["id"]
    secrets = [a["id"] for a in owned] + ["owners_secret_sport", "the owner's private notes"]

    listing = await gateway.get("/activities", headers=intruder)
    assert [a["id"] for a in listing.json()["items"]] == [my_id]
    by_type = await gateway.get(
        "/activities", params={"activity_type": "owners_secret_sport"}, headers=intruder
    )
    assert by_type.json() == {"items": [], "next_cursor": None}

    stats = await gateway.get("/activities/stats", params={"group_by": "month"}, headers=intruder)
    assert stats.status_code == 200
    periods = stats.json()["periods"]
    assert sum(p["total"]["count"] for p in periods) == 1
    assert all(set(p["by_type"]) == {"run"} for p in periods)

    export = await gateway.get("/activities/export.csv", headers=intruder)
    assert export.status_code == 200
    assert my_id in export.text
    for secret in secrets:
        assert secret not in export.text
        assert secret not in listing.text
        assert secret not in stats.text

    # The owner's listing cursor is bound to the owner.
    page = (await gateway.get("/activities", params={"limit": 1}, headers=owner)).json()
    assert page["next_cursor"]
    r = await gateway.get(
        "/activities", params={"limit": 1, "cursor": page["next_cursor"]}, headers=intruder
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert all(secret not in r.text for secret in secrets)

    # The owner still sees both, untouched.
    r = await gateway.get("/activities", headers=owner)
    assert sorted(a["id"] for a in r.json()["items"]) == sorted(a["id"] for a in owned)


async def test_idempotency_keys_and_duplicates_are_per_user(gateway, owner, intruder):
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    r = await gateway.post("/activities", json=OWNERS_ACTIVITY, headers={**owner, **key})
    assert r.status_code == 201
    owners_id = r.json()["id"]

    # The same key and body from someone else is their own new activity, not a replay of
    # the owner's, and not "key already used" (which would confirm the key exists).
    r = await gateway.post("/activities", json=OWNERS_ACTIVITY, headers={**intruder, **key})
    assert r.status_code == 201, r.text
    assert r.json()["id"] != owners_id
    assert "idempotent-replayed" not in r.headers
    other_body = {**OWNERS_ACTIVITY, "external_id": "garmin-99", "notes": "mine"}
    r = await gateway.post(
        "/activities",
        json=other_body,
        headers={**intruder, "Idempotency-Key": key["Idempotency-Key"] + "x"},
    )
    assert r.status_code == 201

    # The owner's replay still returns the owner's activity.
    r = await gateway.post("/activities", json=OWNERS_ACTIVITY, headers={**owner, **key})
    assert (r.status_code, r.json()["id"], r.headers["idempotent-replayed"]) == (
        201,
        owners_id,
        "true",
    )

    # An imported file is a duplicate only for whoever imported it: a 409 to someone else
    # would hand them the owner's activity id.
    files = {"file": ("ride.gpx", GPX, "application/gpx+xml")}
    first = await gateway.post("/activities/import", files=files, headers=owner)
    assert first.status_code == 201, first.text
    again = await gateway.post("/activities/import", files=files, headers=owner)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_activity")
    theirs = await gateway.post("/activities/import", files=files, headers=intruder)
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["id"] != first.json()["id"]
    assert first.json()["id"] not in theirs.text


async def test_another_users_session_cannot_be_revoked(gateway, owner, intruder):
    sid = jwt.decode(owner["Authorization"].split()[1], options={"verify_signature": False})["sid"]
    theirs = await gateway.delete(f"/auth/sessions/{sid}", headers=intruder)
    missing = await gateway.delete(f"/auth/sessions/{uuid.uuid4()}", headers=intruder)
    assert (theirs.status_code, theirs.json()["code"]) == (404, "not_found")
    assert _stable(theirs) == _stable(missing)
    assert (await gateway.get("/me", headers=owner)).status_code == 200
    sessions = (await gateway.get("/auth/sessions", headers=intruder)).json()["items"]
    assert sid not in {s["id"] for s in sessions}


async def test_a_pre_registration_does_not_take_over_the_owners_account(
    gateway, smtp_server, new_email
):
    """Issue 16 point 1: the squatter registers the owner's address first, with a password
    of theirs; the owner then registers and verifies through their own mail's link. Before,
    the first password stood and that link verified it: the squatter signed in."""
    email = new_email()
    squatter = {"email": email, "password": "the squatter's password"}
    owner = {"email": email, "password": "the owner's own password"}
    assert (await gateway.post("/auth/register", json=squatter)).status_code == 202
    await smtp_server.wait_for(email)
    assert (await gateway.post("/auth/login", json=squatter)).status_code == 403
    assert (await gateway.post("/auth/register", json=owner)).status_code == 202
    owners_mail = await smtp_server.wait_for(email, count=2)
    assert "registered again" in owners_mail.text()
    token = TOKEN.search(owners_mail.text()).group(1)
    assert (await gateway.post("/auth/verify-email", json={"token": token})).status_code == 200

    r = await gateway.post("/auth/login", json=squatter)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    assert (await gateway.post("/auth/login", json=owner)).status_code == 200
