"""Imports of GPX, TCX and FIT files the tests make themselves; hostile files get a 4xx."""

from datetime import UTC, datetime, timedelta

import pytest
from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.profile_type import FileType, Manufacturer, Sport

START = datetime(2026, 5, 1, 7, 0, tzinfo=UTC)


def gpx(points: int = 5, sport: str = "running", step_lat: float = 0.001) -> bytes:
    pts = "".join(
        f'<trkpt lat="{51.5 + i * step_lat:.6f}" lon="-0.12"><ele>{10 + (i % 3) * 2}</ele>'
        f"<time>{(START + timedelta(seconds=10 * i)).isoformat().replace('+00:00', 'Z')}</time>"
        f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{120 + i % 40}</gpxtpx:hr>"
        f"</gpxtpx:TrackPointExtension></extensions></trkpt>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><name>Morning</name><type>{sport}</type><trkseg>{pts}</trkseg></trk></gpx>"
    ).encode()


def tcx() -> bytes:
    points = "".join(
        f"<Trackpoint><Time>{(START + timedelta(seconds=30 * i)).isoformat()}</Time>"
        f"<Position><LatitudeDegrees>{48.85 + i * 0.002}</LatitudeDegrees>"
        f"<LongitudeDegrees>2.35</LongitudeDegrees></Position>"
        f"<AltitudeMeters>{35 + i}</AltitudeMeters>"
        f"<HeartRateBpm><Value>{130 + i}</Value></HeartRateBpm></Trackpoint>"
        for i in range(4)
    )
    return (
        '<?xml version="1.0"?>'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        '<Activities><Activity Sport="Biking"><Id>2026-05-01T07:00:00Z</Id>'
        '<Lap StartTime="2026-05-01T07:00:00Z"><TotalTimeSeconds>90</TotalTimeSeconds>'
        "<DistanceMeters>660</DistanceMeters><Calories>25</Calories>"
        f"<Track>{points}</Track></Lap></Activity></Activities></TrainingCenterDatabase>"
    ).encode()


def fit() -> bytes:
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id.product = 0
    file_id.time_created = round(START.timestamp() * 1000)
    file_id.serial_number = 1
    builder.add(file_id)
    for i in range(6):
        record = RecordMessage()
        record.timestamp = round((START.timestamp() + 10 * i) * 1000)
        record.position_lat = 40.0 + i * 0.0005
        record.position_long = -74.0
        record.altitude = 5.0 + i
        record.heart_rate = 100 + i
        builder.add(record)
    session = SessionMessage()
    session.sport = Sport.SWIMMING
    session.start_time = round(START.timestamp() * 1000)
    session.timestamp = round((START.timestamp() + 50) * 1000)
    session.total_elapsed_time = 50.0
    session.total_distance = 300.0
    session.total_calories = 40
    builder.add(session)
    return builder.build().to_bytes()


async def upload(client, headers, data: bytes, name: str = "file.bin"):
    return await client.post("/activities/import", files={"file": (name, data)}, headers=headers)


async def test_gpx_import(client, user):
    r = await upload(client, user[1], gpx(points=61), "morning.gpx")
    assert r.status_code == 201, r.text
    a = r.json()
    assert r.headers["location"] == f"/activities/{a['id']}"
    assert (a["activity_type"], a["source"]) == ("run", "import")
    assert a["started_at"].startswith("2026-05-01T07:00:00")
    assert a["duration_secs"] == 600
    assert a["distance_meters"] == pytest.approx(6672, rel=0.01)  # 60 steps of 0.001° lat
    assert a["external_id"].startswith("sha256:")
    data = a["device_data"]
    assert (data["format"], data["points_total"], len(data["track"])) == ("gpx", 61, 61)
    assert data["elevation_gain_m"] > 0
    assert (data["avg_hr"], data["max_hr"]) == (
        round(sum(120 + i % 40 for i in range(61)) / 61),
        159,
    )
    gpx_out = await client.get(f"/activities/{a['id']}.gpx", headers=user[1])
    assert gpx_out.content.count(b"<trkpt") == 61


async def test_tcx_import(client, user):
    r = await upload(client, user[1], tcx(), "ride.tcx")
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["activity_type"], a["duration_secs"], a["distance_meters"], a["calories"]) == (
        "cycle",
        90,
        660.0,
        25,
    )
    assert (a["device_data"]["max_hr"], len(a["device_data"]["track"])) == (133, 4)


async def test_fit_import(client, user):
    r = await upload(client, user[1], fit(), "swim.fit")
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["activity_type"], a["duration_secs"], a["distance_meters"], a["calories"]) == (
        "swim",
        50,
        300.0,
        40,
    )
    first = a["device_data"]["track"][0]
    assert first["lat"] == pytest.approx(40.0, abs=1e-5)
    assert first["lon"] == pytest.approx(-74.0, abs=1e-5)
    assert first["hr"] == 100


async def test_the_same_file_twice_is_409(client, user, mint):
    first = await upload(client, user[1], tcx())
    again = await upload(client, user[1], tcx())
    assert again.status_code == 409
    assert again.json()["details"] == {"activity_id": first.json()["id"]}
    # Another athlete may import the same file.
    assert (await upload(client, mint.headers(), tcx())).status_code == 201


async def test_a_long_track_is_downsampled(client, user):
    r = await upload(client, user[1], gpx(points=5000, step_lat=0.00001))
    assert r.status_code == 201, r.text
    data = r.json()["device_data"]
    assert data["points_total"] == 5000
    assert 0 < len(data["track"]) <= 2000
    assert data["track"][-1]["time"] == (START + timedelta(seconds=49990)).isoformat().replace(
        "+00:00", "Z"
    )


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<gpx version="1.1"><trk><name>&lol3;</name></trk></gpx>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<TrainingCenterDatabase><Activities><Activity Sport="&x;"/></Activities></TrainingCenterDatabase>"""


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("text", b"hello, this is not a track"),
        ("empty", b""),
        ("truncated gpx", gpx()[:-40]),
        ("truncated fit", fit()[:-30]),
        ("fit with a bad crc", fit()[:-2] + b"\x00\x00"),
        ("xml bomb", BOMB),
        ("external entity", XXE),
        (
            "gpx without points",
            b'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk/></gpx>',
        ),
        ("tcx with junk numbers", tcx().replace(b"<TotalTimeSeconds>90", b"<TotalTimeSeconds>NaN")),
        ("gpx with one point", gpx(points=1)),
    ],
)
async def test_bad_and_hostile_files_are_422(client, user, name, data):
    r = await upload(client, user[1], data)
    assert r.status_code == 422, (name, r.text)
    assert r.json()["code"] == "invalid_file"
    assert r.json()["details"][0]["field"] == "body.file"


async def test_too_large_is_413_and_missing_file_is_422(client, user):
    r = await upload(client, user[1], b"<gpx>" + b" " * (3 * 1024 * 1024) + b"</gpx>")
    assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")
    r = await client.post("/activities/import", data={"nofile": "x"}, headers=user[1])
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "body.file")
