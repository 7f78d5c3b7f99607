import pytest

from sportslog_common.merge_patch import merge_patch


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
async def me(signup, new_email):
    email = new_email()
    return email, bearer(await signup(email, "correct horse"))


async def test_a_new_account_looks_like_this(client, me):
    email, headers = me
    r = await client.get("/me", headers=headers)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"id", "email", "email_verified", "created_at", "auth_methods", "profile"}
    assert body["email"] == email
    assert body["email_verified"] is True
    assert body["auth_methods"] == ["password"]
    assert body["profile"] == {
        "display_name": None,
        "preferred_units": "metric",
        "phone_number": None,
        "phone_verified": False,
        "preferences": {},
    }


async def test_update_profile_changes_only_what_is_sent(client, me):
    _, headers = me
    r = await client.put(
        "/me/profile",
        json={"display_name": "  Ann  ", "preferred_units": "imperial"},
        headers=headers,
    )
    assert r.status_code == 200
    assert r.json()["profile"]["display_name"] == "Ann"
    r = await client.put("/me/profile", json={"phone_number": "+44 20 7946 0958"}, headers=headers)
    profile = r.json()["profile"]
    assert (profile["display_name"], profile["preferred_units"]) == ("Ann", "imperial")
    assert (profile["phone_number"], profile["phone_verified"]) == ("+442079460958", False)
    r = await client.put("/me/profile", json={"display_name": None}, headers=headers)
    assert r.json()["profile"]["display_name"] is None
    assert r.json()["profile"]["phone_number"] == "+442079460958"


async def test_a_new_phone_number_is_unverified(client, me, app):
    _, headers = me
    await client.put("/me/profile", json={"phone_number": "+14155552671"}, headers=headers)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE profiles SET phone_verified = true WHERE phone_number = '+14155552671'"
        )
    same = await client.put(
        "/me/profile", json={"phone_number": "+1 415 555 2671"}, headers=headers
    )
    assert same.json()["profile"]["phone_verified"] is True  # the same number, normalised
    other = await client.put("/me/profile", json={"phone_number": "+442079460958"}, headers=headers)
    assert other.json()["profile"]["phone_verified"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone_number": "020 7946 0958"}, "body.phone_number"),
        ({"phone_number": "+1 555"}, "body.phone_number"),
        ({"preferred_units": "furlongs"}, "body.preferred_units"),
        ({"preferred_units": None}, "body.preferred_units"),
        ({"display_name": "x" * 101}, "body.display_name"),
        ({"display_name": "   "}, "body.display_name"),
        ({"display_name": "bad\u0000name"}, "body.display_name"),
        ({"nickname": "x"}, "body.nickname"),
    ],
)
async def test_bad_profile_updates_are_422(client, me, body, field):
    r = await client.put("/me/profile", json=body, headers=me[1])
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == field


async def test_preferences_merge_patch(client, me):
    _, headers = me
    r = await client.put(
        "/me/preferences",
        json={"theme": "dark", "units": {"pace": "min/km", "weight": "kg"}},
        headers=headers,
    )
    assert (r.status_code, r.json()) == (
        200,
        {"theme": "dark", "units": {"pace": "min/km", "weight": "kg"}},
    )
    r = await client.put(
        "/me/preferences",
        content=b'{"theme": null, "units": {"weight": "lb"}, "goals": [1, 2]}',
        headers={**headers, "content-type": "application/merge-patch+json"},
    )
    assert r.json() == {"units": {"pace": "min/km", "weight": "lb"}, "goals": [1, 2]}
    assert (await client.get("/me", headers=headers)).json()["profile"]["preferences"] == r.json()


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"[1, 2]", 422, "validation_error"),
        (b'"dark"', 422, "validation_error"),
        (b"null", 422, "validation_error"),
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, 422, "validation_error"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, 422, "validation_error"),
        (b'{"blob": "' + b"x" * 20000 + b'"}', 422, "validation_error"),
    ],
)
async def test_bad_preference_patches(client, me, content, status, code):
    r = await client.put(
        "/me/preferences", content=content, headers={**me[1], "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # RFC 7396 appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc7396_examples(target, patch, result):
    assert merge_patch(target, patch) == result


async def test_delete_account(client, me, events, app):
    email, headers = me
    wrong = await client.request("DELETE", "/me", json={"password": "not it"}, headers=headers)
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    missing = await client.request("DELETE", "/me", json={}, headers=headers)
    assert missing.status_code == 401
    user_id = (await client.get("/me", headers=headers)).json()["id"]
    r = await client.request("DELETE", "/me", json={"password": "correct horse"}, headers=headers)
    assert r.status_code == 204
    await events.wait_for("user.deleted", email, user_id=user_id)
    assert (await client.get("/me", headers=headers)).status_code == 401
    # The email is free again: a new account with a new id.
    again = await client.post("/auth/register", json={"email": email, "password": "new account"})
    assert again.status_code == 202
    registered = await events.wait_for("user.registered", email)
    assert registered.data["user_id"] != user_id
    async with app.state.pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM sessions WHERE user_id = $1::uuid", user_id)
            == 0
        )


@pytest.mark.parametrize(
    "content",
    [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": "x\\u0000y"}', b'{"x\\u0000": 1}'],
)
async def test_patches_postgres_cannot_store_are_422(client, me, content):
    r = await client.put(
        "/me/preferences", content=content, headers={**me[1], "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
