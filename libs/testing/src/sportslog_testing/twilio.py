"""A local HTTP server that answers like Twilio's Messages API, for the real twilio SDK
(pointed at it with TWILIO_API_BASE_URL)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from sportslog_testing.helpers import free_port, wait_until

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-auth-token-0000000000000000"
FROM_NUMBER = "+15005550006"


@dataclass(frozen=True)
class SentSms:
    to: str
    from_: str
    body: str


class TwilioFake:
    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[SentSms] = []
        self.requests = 0
        self.fail_with: list[int] = []  # statuses to answer next, before succeeding again
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def to(self, number: str) -> list[SentSms]:
        return [m for m in self.messages if m.to == number]

    async def wait_for(self, number: str, count: int = 1, timeout: float = 15) -> SentSms:
        found = await wait_until(
            lambda: sms if len(sms := self.to(number)) >= count else None,
            timeout=timeout,
            message=f"{count} SMS to {number}",
        )
        return found[count - 1]

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return _error(401, 20003, "Authenticate")
        if self.fail_with:
            status = self.fail_with.pop(0)
            return _error(status, 20500 if status >= 500 else 21211, "Scripted failure")
        form = await request.post()
        to, from_, body = (
            str(form.get("To", "")),
            str(form.get("From", "")),
            str(form.get("Body", "")),
        )
        if not to.startswith("+"):
            return _error(400, 21211, "The 'To' number is not a valid phone number.")
        self.messages.append(SentSms(to, from_, body))
        sid = "SM" + uuid.uuid4().hex
        payload: dict[str, Any] = {
            "sid": sid,
            "account_sid": request.match_info["sid"],
            "to": to,
            "from": from_,
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{request.match_info['sid']}/Messages/{sid}.json",
        }
        return web.json_response(payload, status=201)


def _error(status: int, code: int, message: str) -> web.Response:
    body = {"code": code, "message": message, "more_info": "", "status": status}
    return web.json_response(body, status=status)


@pytest.fixture
async def twilio_fake() -> AsyncIterator[TwilioFake]:
    fake = TwilioFake()
    await fake.start()
    yield fake
    await fake.stop()
