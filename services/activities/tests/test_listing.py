"""The keyset cursor: opaque, tamper-evident, bound to its user, and served by the index."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from sportslog_activities.queries import list_query
from sportslog_activities.schemas import ActivityFilter


async def two_pages(client, headers):
    for day in range(3):
        body = {
            "activity_type": "run",
            "started_at": f"2026-05-0{day + 1}T07:00:00Z",
            "duration_secs": 60,
        }
        await client.post("/activities", json=body, headers=headers)
    return (await client.get("/activities", params={"limit": 2}, headers=headers)).json()[
        "next_cursor"
    ]


async def test_a_tampered_cursor_is_refused(client, user):
    cursor = await two_pages(client, user[1])
    assert (
        await client.get("/activities", params={"cursor": cursor}, headers=user[1])
    ).status_code == 200
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    r = await client.get("/activities", params={"cursor": flipped}, headers=user[1])
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "query.cursor")


async def test_a_cursor_is_useless_to_another_user(client, user, mint):
    cursor = await two_pages(client, user[1])
    r = await client.get(
        "/activities", params={"cursor": cursor}, headers=mint.headers(uuid.uuid4())
    )
    assert r.status_code == 422


async def test_cursor_reveals_no_plain_json(client, user):
    import base64

    cursor = await two_pages(client, user[1])
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert raw[:16] != raw[16:32]  # a MAC, then the position
    assert json.loads(raw[16:])  # the position itself is not secret, only unforgeable


async def test_listing_uses_the_user_started_id_index(app):
    """With many users' rows, the planner must walk activities_user_started, not sort."""
    async with app.state.pool.acquire() as conn:
        users = [uuid.uuid4() for _ in range(50)]
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows = [
            (user, "run", start + timedelta(hours=i), 600) for user in users for i in range(200)
        ]
        await conn.copy_records_to_table(
            "activities",
            records=rows,
            columns=["user_id", "activity_type", "started_at", "duration_secs"],
        )
        await conn.execute("ANALYZE activities")
        deep = (start + timedelta(hours=100), uuid.uuid4())
        variants = [
            (ActivityFilter(), None),
            (ActivityFilter(), deep),
            (ActivityFilter(activity_type="run"), deep),
            (ActivityFilter(started_from=start, started_to=start + timedelta(days=3)), None),
        ]
        for f, after in variants:
            variant = (f, after)
            sql, params = list_query(users[7], f, after=after, offset=0, limit=21)
            # The generic plan is what a prepared statement ends up with: check it too.
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            for mode in ("force_generic_plan", "force_custom_plan"):
                await conn.execute(f"SET plan_cache_mode = {mode}")
                plan = json.dumps(await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *params))
                assert "activities_user_started" in plan, (variant, mode, plan)
                assert '"Sort"' not in plan, (variant, mode, plan)
                if after is not None:
                    assert "Index Cond" in plan
                    assert "started_at" in plan.split("Index Cond")[1]
            await conn.execute("RESET plan_cache_mode")
