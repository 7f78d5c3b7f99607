import uuid
from datetime import UTC, datetime, timedelta

import pytest


def run(started_at: datetime, **overrides):
    body = {
        "activity_type": "run",
        "started_at": started_at.isoformat(),
        "duration_secs": 1800,
        "distance_meters": 5000.0,
        "calories": 350,
        "notes": "easy",
    }
    body.update(overrides)
    return body


T0 = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)


async def test_create_then_get(client, user):
    _, headers = user
    r = await client.post(
        "/activities", json=run(T0, device_data={"hr": [120, 130]}), headers=headers
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/activities/{created['id']}"
    assert created["source"] == "manual"
    assert created["device_data"] == {"hr": [120, 130]}
    assert set(created) == {
        "id",
        "activity_type",
        "started_at",
        "duration_secs",
        "distance_meters",
        "calories",
        "notes",
        "source",
        "external_id",
        "device_data",
        "created_at",
        "updated_at",
    }
    got = await client.get(f"/activities/{created['id']}", headers=headers)
    assert got.status_code == 200
    assert got.json() == created


async def test_another_users_activity_is_404(client, user, mint):
    _, headers = user
    created = (await client.post("/activities", json=run(T0), headers=headers)).json()
    r = await client.get(f"/activities/{created['id']}", headers=mint.headers())
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = await client.get(f"/activities/{uuid.uuid4()}", headers=headers)
    assert r.status_code == 404


async def test_list_is_newest_first_and_pages_by_cursor(client, user, mint):
    _, headers = user
    ids = []
    for i in range(5):
        r = await client.post("/activities", json=run(T0 + timedelta(days=i)), headers=headers)
        ids.append(r.json()["id"])
    # Same started_at twice: the id breaks the tie, so no row is skipped or repeated.
    for _ in range(2):
        r = await client.post("/activities", json=run(T0 + timedelta(days=2)), headers=headers)
        ids.append(r.json()["id"])
    await client.post("/activities", json=run(T0), headers=mint.headers())  # someone else's

    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/activities", params=params, headers=headers)).json()
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(a["id"] for a in seen) == sorted(ids)
    keys = [(a["started_at"], a["id"]) for a in seen]
    assert keys == sorted(keys, reverse=True)


async def test_filters_and_offset(client, user):
    _, headers = user
    for i in range(4):
        await client.post("/activities", json=run(T0 + timedelta(days=i)), headers=headers)
    await client.post("/activities", json=run(T0, activity_type="swim"), headers=headers)
    swims = (
        await client.get("/activities", params={"activity_type": "swim"}, headers=headers)
    ).json()
    assert [a["activity_type"] for a in swims["items"]] == ["swim"]
    window = {
        "from": (T0 + timedelta(days=1)).isoformat(),
        "to": (T0 + timedelta(days=3)).isoformat(),
    }
    ranged = (await client.get("/activities", params=window, headers=headers)).json()["items"]
    assert [a["started_at"][:10] for a in ranged] == ["2026-05-03", "2026-05-02"]
    offset = (
        await client.get("/activities", params={"offset": 1, "limit": 2}, headers=headers)
    ).json()
    assert [a["started_at"][:10] for a in offset["items"]] == ["2026-05-03", "2026-05-02"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"from": "yesterday"}, "query.from"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"activity_type": "Run!"}, "query.activity_type"),
    ],
)
async def test_bad_list_parameters_are_422(client, user, params, field):
    r = await client.get("/activities", params=params, headers=user[1])
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert r.json()["details"][0]["field"] == field


async def test_validation_lists_every_bad_field(client, user):
    body = run(
        T0, activity_type="Run", duration_secs=0, distance_meters=-1, calories=-5, source="strava"
    )
    body["started_at"] = "2026-05-01T07:00:00"  # no time zone
    r = await client.post("/activities", json=body, headers=user[1])
    assert r.status_code == 422
    fields = {d["field"] for d in r.json()["details"]}
    assert fields == {
        "body.activity_type",
        "body.duration_secs",
        "body.distance_meters",
        "body.calories",
        "body.source",
        "body.started_at",
    }


async def test_device_data_over_the_limit_is_422(client, user):
    r = await client.post(
        "/activities", json=run(T0, device_data={"track": "x" * 70_000}), headers=user[1]
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "body.device_data"


async def test_malformed_json_wrong_method_unknown_route(client, user):
    r = await client.post(
        "/activities", content=b"{", headers={**user[1], "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
    r = await client.patch("/activities", headers=user[1])
    assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
    r = await client.get("/nothing-here", headers=user[1])
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda mint: {},
        lambda mint: {"Authorization": "Bearer garbage"},
        lambda mint: mint.headers(exp=1000, iat=100),
        lambda mint: mint.headers(aud="someone-else"),
        lambda mint: mint.headers(iss="http://evil.test"),
        lambda mint: {"Authorization": "Bearer " + mint.token()[:-4] + "AAAA"},
    ],
)
async def test_requests_without_a_valid_token_are_401(client, mint, make_headers):
    r = await client.get("/activities", headers=make_headers(mint))
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"notes": "bad\u0000byte"}, "body.notes"),
        ({"external_id": "x\u0000"}, "body.external_id"),
        ({"started_at": "0001-01-01T00:00:00+14:00"}, "body.started_at"),
        ({"device_data": {"hr": "a\u0000b"}}, "body.device_data"),
    ],
)
async def test_hostile_values_are_422_not_500(client, user, overrides, field):
    body = run(T0) | overrides
    r = await client.post("/activities", json=body, headers=user[1])
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == field


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_finite_numbers_in_device_data_are_422(client, user, literal):
    body = (
        b'{"activity_type": "run", "started_at": "2026-05-01T07:00:00Z", "duration_secs": 60,'
        b' "device_data": {"hr": ' + literal + b"}}"
    )
    r = await client.post(
        "/activities", content=body, headers={**user[1], "content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == "body.device_data"


async def test_out_of_range_query_dates_are_422(client, user):
    r = await client.get(
        "/activities", params={"from": "0001-01-01T00:00:00+14:00"}, headers=user[1]
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "query.from"


async def test_the_same_device_record_twice_is_409_with_the_first_id(client, user):
    body = run(T0, source="garmin", external_id="garmin-123")
    first = await client.post("/activities", json=body, headers=user[1])
    assert first.status_code == 201
    again = await client.post("/activities", json=body, headers=user[1])
    assert again.status_code == 409
    assert again.json() == {
        "error": "This activity was already recorded",
        "code": "duplicate_activity",
        "details": {"activity_id": first.json()["id"]},
    }
