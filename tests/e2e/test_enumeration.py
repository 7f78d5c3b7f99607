"""Account enumeration: the routes that take an email (or phone) answer a known and an unknown
one alike, byte for byte, and in about the same time.

These tests run against an auth process and a gateway of their own, sharing the stack's
databases and broker: the auth with the production argon2 cost (the stack's is cut down for
speed, which would hide a skipped hash in the noise), the gateway with rate limits high
enough for a few hundred requests from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sportslog_testing.processes import ServiceProcesses

TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
SIX_DIGITS = re.compile(r"\b(\d{6})\b")
PASSWORD = "a long enough secret"
WRONG_PASSWORD = "not the password at all"
# Headers that differ between any two answers, whoever asks about whatever.
VOLATILE = {"date", "x-request-id", "ratelimit-remaining", "ratelimit-reset"}
SAMPLES = 30
WARM_UP = 5


def _email() -> str:
    return f"enum-{uuid.uuid4().hex[:12]}@example.com"


def _phone() -> str:
    # Ofcom's London numbers for drama (020 7946 0000-0999): valid, and never anyone's.
    return f"+442079460{secrets.randbelow(1000):03d}"


@dataclasses.dataclass(frozen=True)
class Account:
    email: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
async def api(stack, tmp_path_factory):
    processes = ServiceProcesses(tmp_path_factory.mktemp("enumeration"))
    env = {
        # The defaults (DESIGN.md §8): m=19456 KiB, t=2, p=1.
        "ARGON2_TIME_COST": "2",
        "ARGON2_MEMORY_KIB": "19456",
        "ARGON2_PARALLELISM": "1",
        "RATE_LIMIT_DEFAULT": "1000000/minute",
        "RATE_LIMIT_AUTH": "1000000/minute",
    }
    try:
        config = await processes.start_beside(stack, "auth", "gateway", extra_env=env)
        async with httpx.AsyncClient(base_url=config.url("gateway"), timeout=30) as client:
            yield client
    finally:
        processes.stop_all()


async def _register(api: httpx.AsyncClient, email: str) -> None:
    r = await api.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 202, r.text


async def _verified(api: httpx.AsyncClient, smtp_server) -> Account:
    email = _email()
    await _register(api, email)
    mail = await smtp_server.wait_for(email)
    r = await api.post("/auth/verify-email", json={"token": TOKEN.search(mail.text()).group(1)})
    assert r.status_code == 200, r.text
    return Account(email, {"Authorization": f"Bearer {r.json()['access_token']}"})


@pytest.fixture(scope="module")
async def verified(api, smtp_server) -> Account:
    return await _verified(api, smtp_server)


@pytest.fixture(scope="module")
async def unverified(api) -> str:
    email = _email()
    await _register(api, email)
    return email


@pytest.fixture(scope="module")
async def pool(api, smtp_server) -> list[Account]:
    """Known accounts for the timing runs: each takes at most 3 of an endpoint's samples,
    under every per-address limit (3 code requests, 5 reset mails, 10 failed logins)."""
    count = SAMPLES // 3 + WARM_UP
    return list(await asyncio.gather(*(_verified(api, smtp_server) for _ in range(count))))


def _stable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in VOLATILE}
    return response.status_code, headers, response.content


async def _all_alike(api: httpx.AsyncClient, path: str, bodies: dict[str, Any]) -> int:
    answers = {who: _stable(await api.post(path, json=body)) for who, body in bodies.items()}
    first = next(iter(answers.values()))
    for who, answer in answers.items():
        assert answer == first, (path, who, answer, first)
    return first[0]


async def test_register_answers_alike(api, verified, unverified):
    status = await _all_alike(
        api,
        "/auth/register",
        {
            "unknown": {"email": _email(), "password": PASSWORD},
            "verified": {"email": verified.email, "password": PASSWORD},
            "unverified": {"email": unverified, "password": PASSWORD},
        },
    )
    assert status == 202


async def test_login_answers_alike(api, verified, unverified):
    status = await _all_alike(
        api,
        "/auth/login",
        {
            "unknown": {"email": _email(), "password": WRONG_PASSWORD},
            "verified": {"email": verified.email, "password": WRONG_PASSWORD},
            "unverified": {"email": unverified, "password": WRONG_PASSWORD},
        },
    )
    assert status == 401


@pytest.mark.parametrize("path", ["/auth/forgot-password", "/auth/resend-verification"])
async def test_mail_requests_answer_alike(api, verified, unverified, path):
    status = await _all_alike(
        api,
        path,
        {
            "unknown": {"email": _email()},
            "verified": {"email": verified.email},
            "unverified": {"email": unverified},
        },
    )
    assert status == 200


async def test_code_requests_answer_alike(api, verified, unverified, sms_server):
    # A phone becomes a sign-in identifier once its owner verified it.
    phone = _phone()
    r = await api.put("/me/profile", json={"phone_number": phone}, headers=verified.headers)
    assert r.status_code == 200, r.text
    r = await api.post("/me/phone/verify-request", headers=verified.headers)
    assert r.status_code == 202, r.text
    code = SIX_DIGITS.search((await sms_server.wait_for(phone)).body).group(1)
    r = await api.post("/me/phone/verify", json={"code": code}, headers=verified.headers)
    assert r.json()["profile"]["phone_verified"] is True
    unknown_phone = _phone()
    while unknown_phone == phone:
        unknown_phone = _phone()

    status = await _all_alike(
        api,
        "/auth/otp/request",
        {
            "unknown email": {"channel": "email", "identifier": _email()},
            "verified email": {"channel": "email", "identifier": verified.email},
            "unverified email": {"channel": "email", "identifier": unverified},
            "unknown phone": {"channel": "sms", "identifier": unknown_phone},
            "verified phone": {"channel": "sms", "identifier": phone},
        },
    )
    assert status == 200
    # The 4th request for an identifier in the window is refused, known or not (the known
    # email was asked once above).
    fresh = _email()
    for identifier in (verified.email, verified.email, fresh, fresh, fresh):
        r = await api.post("/auth/otp/request", json={"channel": "email", "identifier": identifier})
        assert r.status_code == 200
    refused = {}
    for identifier in (verified.email, fresh):
        r = await api.post("/auth/otp/request", json={"channel": "email", "identifier": identifier})
        assert r.headers["retry-after"].isdigit()
        status, headers, content = _stable(r)
        refused[identifier] = (
            status,
            {k: v for k, v in headers.items() if k != "retry-after"},
            content,
        )
    assert refused[verified.email] == refused[fresh]
    assert refused[fresh][0] == 429


# The timing runs: (path, status, body for an email).
TIMED: dict[str, tuple[str, int, Callable[[str], dict[str, str]]]] = {
    "register": ("/auth/register", 202, lambda e: {"email": e, "password": PASSWORD}),
    "login": ("/auth/login", 401, lambda e: {"email": e, "password": WRONG_PASSWORD}),
    "forgot-password": ("/auth/forgot-password", 200, lambda e: {"email": e}),
    "otp-request": ("/auth/otp/request", 200, lambda e: {"channel": "email", "identifier": e}),
}


def _quartiles(samples: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q1, median, q3


@pytest.mark.parametrize("endpoint", TIMED)
async def test_known_and_unknown_emails_take_about_as_long(api, pool, endpoint):
    """SAMPLES requests for known and SAMPLES for unknown emails, interleaved (and in
    alternating order) so that drift on a busy machine lands on both.

    The bound: the two medians must differ by less than the interquartile range of the
    known-email samples. For samples this size the standard error of a difference of two
    medians is about 1.3 * IQR / sqrt(n), so the bound is about 4 standard errors: noise
    alone almost never crosses it. What it is there to catch is far above it: a skipped
    argon2 hash (production cost, 25-30 ms here against an IQR of 1-10 ms) or a mail sent
    inline. The floor of 5 ms: on a quiet machine the IQR shrinks to about a millisecond,
    and the known path of forgot-password and otp/request writes a few more rows (a token
    or challenge and an outbox event: measured 1-4 ms more), which no client sees through
    the network's own jitter and which this test does not claim to rule out.
    """
    path, status, body = TIMED[endpoint]

    async def timed(email: str) -> float:
        started = time.perf_counter()
        r = await api.post(path, json=body(email))
        elapsed = time.perf_counter() - started
        assert r.status_code == status, (email, r.status_code, r.text)
        return elapsed

    for account in pool[SAMPLES // 3 :]:  # warm the connections and statement caches
        await timed(account.email)
        await timed(_email())
    known: list[float] = []
    unknown: list[float] = []
    for i in range(SAMPLES):
        account = pool[i % (SAMPLES // 3)]
        if i % 2:
            known.append(await timed(account.email))
            unknown.append(await timed(_email()))
        else:
            unknown.append(await timed(_email()))
            known.append(await timed(account.email))

    q1, known_median, q3 = _quartiles(known)
    unknown_median = statistics.median(unknown)
    bound = max(q3 - q1, 0.005)
    report = (
        f"{endpoint}: known median {known_median * 1000:.2f} ms (IQR {(q3 - q1) * 1000:.2f}),"
        f" unknown median {unknown_median * 1000:.2f} ms, bound {bound * 1000:.2f} ms"
    )
    print(report)
    assert abs(known_median - unknown_median) < bound, report
