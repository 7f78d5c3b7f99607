import pytest


async def log(client, headers, kind, started_at, duration, distance=None, calories=None):
    body = {"activity_type": kind, "started_at": started_at, "duration_secs": duration}
    if distance is not None:
        body["distance_meters"] = distance
    if calories is not None:
        body["calories"] = calories
    r = await client.post("/activities", json=body, headers=headers)
    assert r.status_code == 201


@pytest.fixture
async def history(client, user):
    headers = user[1]
    await log(client, headers, "run", "2026-03-02T07:00:00Z", 1800, 5000, 300)  # Mon, week 10
    await log(client, headers, "run", "2026-03-04T07:00:00Z", 3600, 10000, 600)  # Wed, week 10
    await log(client, headers, "swim", "2026-03-04T18:00:00Z", 1200, 1500)  # Wed, week 10
    await log(client, headers, "run", "2026-03-09T07:00:00Z", 2400, 8000, 450)  # Mon, week 11
    await log(client, headers, "lift", "2026-04-01T07:00:00Z", 3000)  # April
    return headers


async def test_weekly_stats(client, history):
    r = await client.get("/activities/stats", params={"group_by": "week"}, headers=history)
    assert r.status_code == 200
    body = r.json()
    assert (body["group_by"], body["units"]) == ("week", "metric")
    periods = {p["start"]: p for p in body["periods"]}
    assert list(periods) == ["2026-03-02", "2026-03-09", "2026-03-30"]
    week10 = periods["2026-03-02"]
    assert week10["by_type"]["run"] == {
        "count": 2,
        "duration_secs": 5400,
        "distance": 15000.0,
        "calories": 900,
        "longest_duration_secs": 3600,
    }
    assert week10["by_type"]["swim"]["distance"] == 1500.0
    assert week10["total"] == {
        "count": 3,
        "duration_secs": 6600,
        "distance": 16500.0,
        "calories": 900,
        "longest_duration_secs": 3600,
    }
    assert periods["2026-03-30"]["by_type"]["lift"]["distance"] == 0.0


async def test_monthly_daily_filters_and_imperial(client, history):
    months = (
        await client.get("/activities/stats", params={"group_by": "month"}, headers=history)
    ).json()
    assert [p["start"] for p in months["periods"]] == ["2026-03-01", "2026-04-01"]
    assert months["periods"][0]["total"]["count"] == 4
    days = (
        await client.get(
            "/activities/stats",
            params={
                "group_by": "day",
                "activity_type": "run",
                "from": "2026-03-03T00:00:00Z",
                "to": "2026-03-10T00:00:00Z",
            },
            headers=history,
        )
    ).json()
    assert [(p["start"], p["total"]["count"]) for p in days["periods"]] == [
        ("2026-03-04", 1),
        ("2026-03-09", 1),
    ]
    imperial = (
        await client.get(
            "/activities/stats", params={"group_by": "month", "units": "imperial"}, headers=history
        )
    ).json()
    assert imperial["units"] == "imperial"
    assert imperial["periods"][0]["by_type"]["run"]["distance"] == pytest.approx(
        23000 / 1609.344, abs=0.001
    )


async def test_stats_are_per_user_and_empty_when_nothing_matches(client, history, mint):
    r = await client.get("/activities/stats", headers=mint.headers())
    assert r.json() == {"group_by": "week", "units": "metric", "periods": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "year"}, "query.group_by"),
        ({"units": "furlongs"}, "query.units"),
        ({"from": "x"}, "query.from"),
    ],
)
async def test_bad_stats_parameters(client, user, params, field):
    r = await client.get("/activities/stats", params=params, headers=user[1])
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, field)
