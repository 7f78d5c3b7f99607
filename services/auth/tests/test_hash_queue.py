"""The argon2 queue is bounded (issue 16 point 11): past PASSWORD_HASH_THREADS running and
PASSWORD_HASH_QUEUE waiting, a hash is refused at once with 503 `busy` and `Retry-After`
(DESIGN.md §9) instead of waiting, and holding memory, without limit. The hashing threads run
at a lower priority (PASSWORD_HASH_NICE) so the event loop wins the CPU during a storm."""

import asyncio
import os
import threading

import httpx
import pytest
from asgi_lifespan import LifespanManager

from sportslog_auth.app import create_app
from sportslog_auth.passwords import Passwords
from sportslog_common.errors import Busy
from sportslog_testing import wait_until


class Gate:
    """Holds every hash of a Passwords in its thread until opened."""

    def __init__(self, passwords: Passwords) -> None:
        self.opened = threading.Event()
        self.entered = 0
        hash_, verify = passwords._hash_sync, passwords._verify_sync

        def held(work):
            def run(*args):
                self.entered += 1
                assert self.opened.wait(timeout=30), "the gate was never opened"
                return work(*args)

            return run

        passwords._hash_sync = held(hash_)  # type: ignore[method-assign]
        passwords._verify_sync = held(verify)  # type: ignore[method-assign]

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def passwords():
    p = Passwords(1, 64, 1, threads=1, queue=2)
    yield p
    p.close()


async def test_a_full_queue_refuses_at_once_and_frees_its_slots(passwords):
    gate = Gate(passwords)
    admitted = [asyncio.create_task(passwords.hash(f"pw{i}")) for i in range(3)]  # 1 + 2
    await wait_until(lambda: gate.entered == 1, message="the first hash to start")
    with pytest.raises(Busy) as refused:
        await asyncio.wait_for(passwords.hash("one too many"), timeout=1)
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "1"}
    gate.open()
    hashes = await asyncio.wait_for(asyncio.gather(*admitted), timeout=10)
    assert all(h.startswith("$argon2id$") for h in hashes)
    # Every slot came back: a full round is admitted again.
    again = await asyncio.gather(*(passwords.hash(f"again{i}") for i in range(3)))
    assert len(again) == 3


async def test_a_cancelled_caller_frees_its_slot_when_its_hash_ends(passwords):
    gate = Gate(passwords)
    running = asyncio.create_task(passwords.hash("running"))
    waiting = [asyncio.create_task(passwords.hash(f"w{i}")) for i in range(2)]
    await wait_until(lambda: gate.entered == 1, message="the first hash to start")
    # A client gone: its waiting hash is dropped, its running one still holds the thread.
    for task in (running, *waiting):
        task.cancel()
    await asyncio.gather(running, *waiting, return_exceptions=True)
    # The two waiting slots are free again at once, the running one is not.
    admitted = [asyncio.create_task(passwords.hash(f"n{i}")) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Busy):
        await passwords.hash("still full")
    gate.open()
    await asyncio.wait_for(asyncio.gather(*admitted), timeout=10)
    await asyncio.wait_for(passwords.hash("after"), timeout=10)


async def test_the_hashing_threads_run_at_a_lower_priority():
    nice = lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # noqa: E731
    base = nice()
    p = Passwords(1, 64, 1, threads=1, nice=5)
    try:
        in_thread = await asyncio.wrap_future(p._pool.submit(nice))
    finally:
        p.close()
    assert in_thread == min(19, base + 5)
    assert nice() == base  # the event loop's thread keeps its priority


@pytest.fixture
async def tiny_queue(settings):
    # One hashing thread and one waiting hash; 6 failed logins per account.
    small = settings.model_copy(
        update={
            "password_hash_threads": 1,
            "password_hash_queue": 1,
            "login_max_failures_per_account": 6,
        }
    )
    application = create_app(small)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as c:
            yield application, c


async def storm(client, gate: Gate, n: int, path: str, bodies) -> list[httpx.Response]:
    """n requests at once against a held hasher: one hashes, one waits, the others must be
    answered at once; then the gate opens and every request is answered (nothing hangs)."""
    tasks = [asyncio.create_task(client.post(path, json=bodies(i))) for i in range(n)]
    await wait_until(
        lambda: sum(t.done() for t in tasks) == n - 2, message="the requests past the queue"
    )
    assert gate.entered == 1
    refused = [t.result() for t in tasks if t.done()]
    for r in refused:
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        assert r.json() == {"error": "The server is busy; try again shortly", "code": "busy"}
    gate.open()
    return await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)


async def test_a_login_storm_past_the_queue_is_503_busy(tiny_queue, signup, new_email):
    app, client = tiny_queue
    email = new_email()
    await signup(email, "correct horse")  # through the other app: its hashes are not held
    body = {"email": email, "password": "correct horse"}
    gate = Gate(app.state.auth.passwords)
    answered = await storm(client, gate, 6, "/auth/login", lambda i: body)
    assert sorted(r.status_code for r in answered) == [200, 200, 503, 503, 503, 503]
    # The refusals tried no password, so they are not failures against the account: all
    # six failures the limit allows are still left, the seventh is refused.
    wrong = {**body, "password": "wrong horse"}
    for _ in range(6):
        assert (await client.post("/auth/login", json=wrong)).status_code == 401
    assert (await client.post("/auth/login", json=wrong)).status_code == 429


async def test_registration_past_the_queue_is_503_busy_and_writes_nothing(tiny_queue, new_email):
    app, client = tiny_queue
    emails = [new_email() for _ in range(4)]
    gate = Gate(app.state.auth.passwords)
    answered = await storm(
        client, gate, 4, "/auth/register", lambda i: {"email": emails[i], "password": "long enough"}
    )
    assert sorted(r.status_code for r in answered) == [202, 202, 503, 503]
    async with app.state.pool.acquire() as conn:
        created = await conn.fetchval(
            "SELECT count(*) FROM users WHERE email = any($1::text[])", emails
        )
    assert created == 2


async def test_busy_is_documented_with_retry_after(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/auth/login", "post"),
        ("/auth/register", "post"),
        ("/auth/reset-password", "post"),
        ("/me/password", "put"),
        ("/me", "delete"),
    ]:
        documented = paths[path][method]["responses"]["503"]
        assert "Retry-After" in documented["headers"], path
