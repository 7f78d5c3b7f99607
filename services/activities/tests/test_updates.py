import asyncio
import uuid

import pytest

BODY = {
    "activity_type": "run",
    "started_at": "2026-05-01T07:00:00+00:00",
    "duration_secs": 1800,
    "distance_meters": 5000.0,
    "notes": "easy",
    "device_data": {"hr": {"avg": 140, "max": 170}, "laps": [1, 2]},
}


@pytest.fixture
async def created(client, user):
    r = await client.post("/activities", json=BODY, headers=user[1])
    assert r.status_code == 201
    assert r.headers["etag"] == '"1"'
    return r.json()


async def test_put_replaces_the_whole_activity(client, user, created):
    new = {"activity_type": "swim", "started_at": "2026-05-02T08:00:00Z", "duration_secs": 900}
    r = await client.put(f"/activities/{created['id']}", json=new, headers=user[1])
    assert r.status_code == 200
    body = r.json()
    assert (body["activity_type"], body["duration_secs"]) == ("swim", 900)
    assert body["notes"] is None
    assert body["device_data"] is None
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] > created["updated_at"]
    assert r.headers["etag"] == '"2"'
    assert (await client.get(f"/activities/{created['id']}", headers=user[1])).json() == body


async def test_if_match_refuses_a_stale_write(client, user, created):
    url = f"/activities/{created['id']}"
    ok = await client.patch(url, json={"notes": "first"}, headers={**user[1], "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.patch(
        url, json={"notes": "second"}, headers={**user[1], "If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()["code"]) == (412, "precondition_failed")
    stale_put = await client.put(url, json=BODY, headers={**user[1], "If-Match": '"1"'})
    assert stale_put.status_code == 412
    stale_delete = await client.delete(url, headers={**user[1], "If-Match": '"1"'})
    assert stale_delete.status_code == 412
    assert (await client.get(url, headers=user[1])).json()["notes"] == "first"
    # The current tag matches, also weak, also in a list, and so does "*".
    for version, if_match in ((2, '"2"'), (3, 'W/"3"'), (4, '"9", "4"'), (5, "*")):
        r = await client.patch(
            url, json={"calories": version}, headers={**user[1], "If-Match": if_match}
        )
        assert r.status_code == 200, if_match
        assert r.headers["etag"] == f'"{version + 1}"'


async def test_patch_is_a_merge_patch(client, user, created):
    url = f"/activities/{created['id']}"
    r = await client.patch(
        url,
        content=b'{"notes": null, "calories": 420, "device_data": {"hr": {"max": null, "min": 90}}}',
        headers={**user[1], "content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notes"] is None
    assert body["calories"] == 420
    assert body["device_data"] == {"hr": {"avg": 140, "min": 90}, "laps": [1, 2]}
    assert body["activity_type"] == "run"
    assert body["duration_secs"] == 1800


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"duration_secs": 0}, "body.duration_secs"),
        ({"activity_type": None}, "body.activity_type"),  # null deletes a required field
        ({"id": "00000000-0000-0000-0000-000000000000"}, "body.id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "body.created_at"),
        ({"started_at": "not a date"}, "body.started_at"),
    ],
)
async def test_bad_patches_are_422(client, user, created, patch, field):
    r = await client.patch(f"/activities/{created['id']}", json=patch, headers=user[1])
    assert r.status_code == 422, r.text
    assert field in {d["field"] for d in r.json()["details"]}


@pytest.mark.parametrize(("content", "status"), [(b"[1]", 422), (b"{nope", 400), (b'"x"', 422)])
async def test_patch_body_must_be_an_object(client, user, created, content, status):
    r = await client.patch(
        f"/activities/{created['id']}",
        content=content,
        headers={**user[1], "content-type": "application/json"},
    )
    assert r.status_code == status


async def test_delete(client, user, created, mint):
    url = f"/activities/{created['id']}"
    assert (await client.delete(url, headers=mint.headers())).status_code == 404  # not theirs
    assert (await client.delete(url, headers=user[1])).status_code == 204
    assert (await client.get(url, headers=user[1])).status_code == 404
    assert (await client.delete(url, headers=user[1])).status_code == 404


async def test_another_users_activity_cannot_be_changed(client, created, mint):
    url = f"/activities/{created['id']}"
    assert (await client.put(url, json=BODY, headers=mint.headers())).status_code == 404
    assert (await client.patch(url, json={"notes": "x"}, headers=mint.headers())).status_code == 404


async def test_updates_and_deletes_publish_events(
    client, user, created, amqp_url, broker_names, app
):
    import aio_pika

    from sportslog_common.events import Envelope
    from sportslog_testing import wait_until

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        probe = await channel.declare_queue(exclusive=True)
        await probe.bind(
            await channel.get_exchange(broker_names.exchange), routing_key="activity.*"
        )
        url = f"/activities/{created['id']}"
        await client.patch(url, json={"notes": "x"}, headers=user[1])
        await client.delete(url, headers=user[1])
        seen = []
        wanted = {"activity.updated", "activity.deleted"}

        async def both():
            # The fixture's activity.created may still be on its way from the outbox, and a
            # relay batch is published concurrently, so neither order nor company is fixed.
            while (m := await probe.get(no_ack=True, fail=False)) is not None:
                envelope = Envelope.model_validate_json(m.body)
                if envelope.type in wanted:
                    seen.append(envelope)
            return {e.type for e in seen} == wanted

        await wait_until(both, message="activity.updated and activity.deleted")
        assert sorted(e.type for e in seen) == sorted(wanted)
        assert all(e.data["id"] == created["id"] for e in seen)
    finally:
        await connection.close()


class TestIdempotencyKey:
    async def test_same_key_and_body_replays_the_same_activity(self, client, user):
        headers = {**user[1], "Idempotency-Key": "abc-1"}
        first = await client.post("/activities", json=BODY, headers=headers)
        again = await client.post("/activities", json=BODY, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        listing = (await client.get("/activities", headers=user[1])).json()["items"]
        assert [a["id"] for a in listing] == [first.json()["id"]]

    async def test_same_key_other_body_is_422(self, client, user):
        headers = {**user[1], "Idempotency-Key": "abc-2"}
        await client.post("/activities", json=BODY, headers=headers)
        r = await client.post("/activities", json={**BODY, "duration_secs": 60}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (422, "idempotency_key_reused")

    async def test_keys_belong_to_their_user(self, client, user, mint):
        a = await client.post("/activities", json=BODY, headers={**user[1], "Idempotency-Key": "k"})
        b = await client.post(
            "/activities", json=BODY, headers={**mint.headers(uuid.uuid4()), "Idempotency-Key": "k"}
        )
        assert a.json()["id"] != b.json()["id"]

    async def test_concurrent_retries_create_one_activity(self, client, user):
        headers = {**user[1], "Idempotency-Key": "burst"}
        answers = await asyncio.gather(
            *(client.post("/activities", json=BODY, headers=headers) for _ in range(6))
        )
        assert {r.status_code for r in answers} == {201}
        assert len({r.json()["id"] for r in answers}) == 1

    async def test_a_failed_create_does_not_burn_the_key(self, client, user):
        headers = {**user[1], "Idempotency-Key": "dup"}
        body = {**BODY, "source": "garmin", "external_id": "g-1"}
        await client.post("/activities", json=body, headers=user[1])
        dup = await client.post("/activities", json=body, headers=headers)
        assert dup.status_code == 409
        ok = await client.post(
            "/activities",
            json={**body, "external_id": "g-2"},
            headers={**user[1], "Idempotency-Key": "dup"},
        )
        assert ok.status_code == 201
