import csv
import io
from xml.etree import ElementTree as ET

TRACK = [
    {"lat": 51.5007, "lon": -0.1246, "ele": 11.0, "time": "2026-05-01T07:00:00Z"},
    {"lat": 51.5010, "lon": -0.1250, "ele": 12.5, "time": "2026-05-01T07:00:05Z"},
]


async def test_csv_export_streams_every_activity_of_the_user(client, user, mint):
    for day in range(1, 4):
        body = {
            "activity_type": "run",
            "started_at": f"2026-05-0{day}T07:00:00Z",
            "duration_secs": 60 * day,
            "notes": '=HYPERLINK("http://evil")' if day == 2 else 'fine, "quoted"',
        }
        await client.post("/activities", json=body, headers=user[1])
    await client.post(
        "/activities",
        json={"activity_type": "swim", "started_at": "2026-05-01T07:00:00Z", "duration_secs": 60},
        headers=mint.headers(),
    )
    r = await client.get("/activities/export.csv", headers=user[1])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["duration_secs"] for row in rows] == ["60", "120", "180"]  # oldest first, mine only
    assert rows[0]["notes"] == 'fine, "quoted"'
    assert rows[1]["notes"].startswith("'=")  # neutralised for spreadsheets
    assert "device_data" not in rows[0]


async def test_csv_export_of_an_empty_log_is_just_the_header(client, user):
    r = await client.get("/activities/export.csv", headers=user[1])
    assert r.text.splitlines() == [
        "id,activity_type,started_at,duration_secs,distance_meters,calories,notes,source,"
        "external_id,created_at,updated_at"
    ]


async def test_gpx_export(client, user):
    body = {
        "activity_type": "run",
        "started_at": "2026-05-01T07:00:00Z",
        "duration_secs": 60,
        "device_data": {"track": [*TRACK, {"lat": 999, "lon": 0}, "junk"]},
    }
    activity = (await client.post("/activities", json=body, headers=user[1])).json()
    r = await client.get(f"/activities/{activity['id']}.gpx", headers=user[1])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/gpx+xml"
    root = ET.fromstring(r.content)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    points = root.findall(".//g:trkpt", ns)
    assert [(p.get("lat"), p.get("lon")) for p in points] == [
        ("51.5007000", "-0.1246000"),
        ("51.5010000", "-0.1250000"),
    ]
    assert points[1].find("g:ele", ns).text == "12.5"
    assert points[0].find("g:time", ns).text == "2026-05-01T07:00:00Z"


async def test_gpx_of_an_activity_without_a_track_or_someone_elses_is_404(client, user, mint):
    plain = (
        await client.post(
            "/activities",
            json={
                "activity_type": "lift",
                "started_at": "2026-05-01T07:00:00Z",
                "duration_secs": 60,
            },
            headers=user[1],
        )
    ).json()
    r = await client.get(f"/activities/{plain['id']}.gpx", headers=user[1])
    assert (r.status_code, r.json()["error"]) == (404, "This activity has no GPS track")
    assert (
        await client.get(f"/activities/{plain['id']}.gpx", headers=mint.headers())
    ).status_code == 404
    assert (await client.get("/activities/not-a-uuid.gpx", headers=user[1])).status_code == 422
