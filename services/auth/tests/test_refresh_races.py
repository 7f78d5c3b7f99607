"""Refresh races (DESIGN.md §9, issue 16 point 6): two tabs refreshing with the same token at
once are not a replay. Within REFRESH_REUSE_GRACE_SECONDS the client that rotated a token
(same user agent and IP) gets a sibling in the same session when it presents it again; later,
or from another client, the reuse still revokes the whole session."""

import asyncio

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager

from sportslog_auth import sessions
from sportslog_auth.app import create_app
from sportslog_auth.tokens import hash_token

TAB = {"User-Agent": "Firefox/140 (tab)"}


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def sid(tokens: dict) -> str:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sid"]


@pytest.fixture
async def account(signup, new_email):
    return await signup(new_email(), "correct horse")


async def refresh(client, token: str, headers=TAB) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refresh_token": token}, headers=headers)


async def session_revoked(app, session_id: str) -> bool:
    async with app.state.pool.acquire() as conn:
        reason = await conn.fetchval(
            "SELECT revoked_reason FROM sessions WHERE id = $1::uuid", session_id
        )
    return reason is not None


async def assert_alive(client, app, tokens: dict) -> None:
    """The token pair works: the access token is accepted and the refresh token rotates."""
    assert (await client.get("/auth/sessions", headers=bearer(tokens))).status_code == 200
    r = await refresh(client, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert sid(r.json()) == sid(tokens)
    assert not await session_revoked(app, sid(tokens))


async def assert_revoked(client, app, events, successor: dict) -> None:
    """The whole session is dead: its newest tokens too, and the gateway is told."""
    assert await session_revoked(app, sid(successor))
    assert (await refresh(client, successor["refresh_token"])).status_code == 401
    assert (await client.get("/auth/sessions", headers=bearer(successor))).status_code == 401
    await events.wait_for("user.session_revoked", session_id=sid(successor))


@pytest.fixture
def overlap(monkeypatch):
    """The most refreshes inside auth at one moment: proof that a gather really raced."""
    seen = {"now": 0, "max": 0}
    real = sessions.Sessions.refresh

    async def counting(*args, **kwargs):
        seen["now"] += 1
        seen["max"] = max(seen["max"], seen["now"])
        try:
            return await real(*args, **kwargs)
        finally:
            seen["now"] -= 1

    monkeypatch.setattr(sessions.Sessions, "refresh", counting)
    return seen


@pytest.mark.parametrize("tabs", [2, 4])
async def test_concurrent_refreshes_of_one_client_all_succeed(
    client, app, account, tabs, capsys, overlap
):
    """The race itself: the same token sent by several tabs at once, through the real app and
    database. The row lock lets one rotate it; the others wait for it, arrive within the
    window from the same client and each get a sibling. Before the fix all but one were 401
    and the session was revoked."""
    responses = await asyncio.gather(
        *(refresh(client, account["refresh_token"]) for _ in range(tabs))
    )
    assert overlap["max"] == tabs  # all in flight at once, not one after the other
    assert [r.status_code for r in responses] == [200] * tabs, [r.text for r in responses]
    successors = [r.json() for r in responses]
    assert len({t["refresh_token"] for t in successors}) == tabs
    assert {sid(t) for t in successors} == {sid(account)}
    for tokens in successors:
        await assert_alive(client, app, tokens)
    out = capsys.readouterr().out
    assert out.count("refresh_token_reused_within_grace") == tabs - 1
    assert "security_refresh_token_replayed" not in out


async def test_concurrent_refreshes_of_two_clients_revoke_the_session(
    client, app, account, events, overlap
):
    """At once but from two clients: whichever is second is a replay."""
    responses = await asyncio.gather(
        refresh(client, account["refresh_token"], headers={"User-Agent": "owner"}),
        refresh(client, account["refresh_token"], headers={"User-Agent": "thief"}),
    )
    assert overlap["max"] == 2
    assert sorted(r.status_code for r in responses) == [200, 401]
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    await assert_revoked(client, app, events, winner)


async def test_same_client_within_the_window_gets_a_valid_successor(client, app, account):
    first = await refresh(client, account["refresh_token"])
    again = await refresh(client, account["refresh_token"])
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["refresh_token"] != again.json()["refresh_token"]
    assert sid(again.json()) == sid(account)
    # Both successors live on, in the one session.
    await assert_alive(client, app, first.json())
    await assert_alive(client, app, again.json())


async def test_same_client_after_the_window_revokes_the_session(
    client, app, account, events, settings, capsys
):
    first = await refresh(client, account["refresh_token"])
    assert first.status_code == 200
    # The window passes: the rotation is moved back rather than waited for.
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "UPDATE refresh_tokens SET rotated_at = rotated_at - make_interval(secs => $2)"
            " WHERE token_hash = $1",
            hash_token(account["refresh_token"]),
            settings.refresh_reuse_grace_seconds + 0.5,
        )
    late = await refresh(client, account["refresh_token"])
    assert (late.status_code, late.json()["code"]) == (401, "invalid_token")
    await assert_revoked(client, app, events, first.json())
    assert "security_refresh_token_replayed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({**TAB, "User-Agent": "curl/8.5"}, id="another-user-agent"),
        pytest.param({**TAB, "X-Forwarded-For": "203.0.113.9"}, id="another-ip"),
    ],
)
async def test_another_client_within_the_window_revokes_the_session(
    client, app, account, events, other
):
    first = await refresh(client, account["refresh_token"])
    assert first.status_code == 200
    stolen = await refresh(client, account["refresh_token"], headers=other)
    assert (stolen.status_code, stolen.json()["code"]) == (401, "invalid_token")
    await assert_revoked(client, app, events, first.json())


async def test_a_zero_window_makes_every_reuse_a_replay(settings, signup, new_email, events):
    strict = create_app(settings.model_copy(update={"refresh_reuse_grace_seconds": 0}))
    async with LifespanManager(strict, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=strict)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as c:
            tokens = await signup(new_email())
            first = await refresh(c, tokens["refresh_token"])
            assert first.status_code == 200
            assert (await refresh(c, tokens["refresh_token"])).status_code == 401
            await assert_revoked(c, strict, events, first.json())
