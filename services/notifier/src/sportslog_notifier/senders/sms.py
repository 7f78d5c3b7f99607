"""SMS: the Twilio Messages API through the twilio SDK's async client, or, without Twilio
credentials (the dev default), a line appended to a log file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from sportslog_notifier.senders.email import PermanentSendError
from sportslog_notifier.settings import NotifierSettings


class SmsSender(Protocol):
    async def send(self, to: str, body: str) -> None: ...

    async def close(self) -> None: ...


class TwilioSmsSender:
    def __init__(self, settings: NotifierSettings) -> None:
        assert settings.twilio_account_sid
        assert settings.twilio_auth_token
        self._from = settings.twilio_from_number
        self._http = AsyncTwilioHttpClient(timeout=settings.twilio_timeout_seconds)
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            http_client=self._http,
        )
        # TWILIO_API_BASE_URL: a local fake in tests, api.twilio.com otherwise.
        self._client.api.base_url = settings.twilio_api_base_url.rstrip("/")

    async def send(self, to: str, body: str) -> None:
        try:
            await self._client.messages.create_async(to=to, from_=self._from, body=body)
        except TwilioRestException as exc:
            # 400 is this message (a bad number...): it never will work. Anything else (429,
            # 5xx, or 401/403/404 from our credentials) may once someone fixes it.
            if exc.status == 400:
                raise PermanentSendError(f"Twilio {exc.status} (code {exc.code})") from exc
            raise

    async def close(self) -> None:
        await self._http.close()


class FileSmsSender:
    """The dev stand-in: each SMS becomes a line of var/sms.log."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)
        self._lock = asyncio.Lock()

    async def send(self, to: str, body: str) -> None:
        line = f"{datetime.now(UTC).isoformat()} to={to} {body}\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as out:
            out.write(line)

    async def close(self) -> None:
        return None


def sms_sender(settings: NotifierSettings) -> SmsSender:
    if settings.twilio_configured():
        return TwilioSmsSender(settings)
    return FileSmsSender(settings.sms_log_file)
