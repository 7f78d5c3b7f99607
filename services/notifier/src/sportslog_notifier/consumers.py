"""Event type -> the message it sends. Ack only after the send is recorded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import structlog
from pydantic import ValidationError

from sportslog_common.bus.consumer import PermanentError, SafeMessage, is_last_attempt
from sportslog_common.db import Pool
from sportslog_common.events import (
    Envelope,
    EventData,
    UserDeleted,
    UserOtpLocked,
    UserOtpRequested,
    UserPasswordChanged,
    UserPasswordResetRequested,
    UserPhoneVerificationRequested,
    UserRegistered,
    UserRegistrationAttempted,
    UserVerificationRequested,
    parse_data,
)
from sportslog_common.sealing import Sealer, SealError
from sportslog_notifier import deliveries
from sportslog_notifier.deliveries import Claim, Delivery
from sportslog_notifier.metrics import EVENT_AGE
from sportslog_notifier.rendering import RenderedEmail, Renderer, SmsTooLong
from sportslog_notifier.senders.email import EmailSender, PermanentSendError, describe_failure
from sportslog_notifier.senders.sms import SmsSender

log = structlog.get_logger("sportslog.notifier")


class TransientSendError(SafeMessage):
    """A send that may work later; its text is safe for logs and dead letters."""


@dataclass(frozen=True)
class Outgoing:
    channel: str  # "email" | "sms"
    to: str
    template: str
    email: RenderedEmail | None = None
    sms: str | None = None
    expires_at: datetime | None = None  # a code or link past this is not worth sending


@dataclass(frozen=True)
class Notifier:
    pool: Pool
    sealer: Sealer
    renderer: Renderer
    email_sender: EmailSender
    sms_sender: SmsSender
    app_base_url: str
    lease_seconds: float = deliveries.LEASE_SECONDS

    def _url(self, path: str, token: str | None = None) -> str:
        url = f"{self.app_base_url.rstrip('/')}/{path}"
        return f"{url}?token={quote(token)}" if token is not None else url

    def _email(
        self, to: str, template: str, expires_at: datetime | None = None, **ctx: str
    ) -> Outgoing:
        return Outgoing(
            "email", to, template, email=self.renderer.email(template, **ctx), expires_at=expires_at
        )

    def _sms(self, to: str, template: str, expires_at: datetime, **ctx: str) -> Outgoing:
        return Outgoing(
            "sms", to, template, sms=self.renderer.sms(template, **ctx), expires_at=expires_at
        )

    def compose(self, data: EventData) -> Outgoing | None:
        """The message an event asks for; None for events that ask for none."""
        open_ = self.sealer.open
        match data:
            case UserVerificationRequested(repeat_registration_at=datetime() as at):
                link = self._url("verify-email", open_(data.verify_token))
                return self._email(
                    data.email, "verify_email_again", data.expires_at, link=link, at=_when(at)
                )
            case UserVerificationRequested(sets_password=False):
                link = self._url("verify-email", open_(data.verify_token))
                return self._email(
                    data.email, "verify_email_no_password", data.expires_at, link=link
                )
            case UserRegistered() | UserVerificationRequested():
                link = self._url("verify-email", open_(data.verify_token))
                return self._email(data.email, "verify_email", data.expires_at, link=link)
            case UserRegistrationAttempted():
                return self._email(
                    data.email, "account_exists", reset_link=self._url("forgot-password")
                )
            case UserPasswordResetRequested():
                link = self._url("reset-password", open_(data.reset_token))
                return self._email(data.email, "reset_password", data.expires_at, link=link)
            case UserPasswordChanged():
                return self._email(
                    data.email, "password_changed", reset_link=self._url("forgot-password")
                )
            case UserOtpLocked():
                return self._email(
                    data.email,
                    "otp_locked",
                    failures=str(data.failures),
                    until=_when(data.until),
                    reset_link=self._url("forgot-password"),
                )
            case UserOtpRequested(channel="email"):
                return self._email(
                    data.destination, "otp_email", data.expires_at, code=open_(data.code)
                )
            case UserOtpRequested():
                return self._sms(
                    data.destination, "otp_sms", data.expires_at, code=open_(data.code)
                )
            case UserPhoneVerificationRequested():
                return self._sms(
                    data.phone_number,
                    "phone_verification_sms",
                    data.expires_at,
                    code=open_(data.code),
                )
            case UserDeleted():
                return self._email(data.email, "goodbye")
        return None

    async def handle(self, envelope: Envelope) -> None:
        try:
            outgoing = self.compose(parse_data(envelope))
        except (KeyError, ValidationError, SealError, SmsTooLong) as exc:
            raise PermanentError(f"cannot build a message: {type(exc).__name__}") from None
        if outgoing is None:
            return
        delivery = Delivery(
            envelope.id, envelope.type, outgoing.channel, outgoing.to, outgoing.template
        )
        if await deliveries.claim(self.pool, delivery, self.lease_seconds) is Claim.ALREADY_DONE:
            log.info("notification_duplicate_skipped", template=outgoing.template)
            return
        if outgoing.expires_at is not None and outgoing.expires_at <= datetime.now(UTC):
            # A stale code or link is never sent: the user has asked for a new one by now.
            await deliveries.finish(self.pool, delivery, "expired")
            log.info("notification_expired", template=outgoing.template)
            return
        try:
            # A send never outlives its lease, or a redelivered copy could send it too.
            async with asyncio.timeout(max(1.0, self.lease_seconds - 5)):
                await self._send(outgoing, str(envelope.id))
        except PermanentSendError as exc:
            await deliveries.finish(self.pool, delivery, "dead", describe_failure(exc))
            raise PermanentError(describe_failure(exc)) from None
        except BaseException as exc:  # the handler timeout cancels us: release the lease too
            # After the consumer's last attempt the message goes to the dead letters.
            status = "dead" if is_last_attempt() else "failed"
            await deliveries.finish(self.pool, delivery, status, describe_failure(exc))
            if isinstance(exc, Exception):
                raise TransientSendError(describe_failure(exc)) from None
            raise
        await deliveries.finish(self.pool, delivery, "sent")
        EVENT_AGE.labels(outgoing.channel).observe(
            max(0.0, time.time() - envelope.occurred_at.timestamp())
        )
        log.info(
            "notification_sent",
            channel=outgoing.channel,
            template=outgoing.template,
            to=delivery.masked,
        )

    async def _send(self, outgoing: Outgoing, key: str) -> None:
        if outgoing.email is not None:
            await self.email_sender.send(outgoing.to, outgoing.email, key)
        elif outgoing.sms is not None:
            await self.sms_sender.send(outgoing.to, outgoing.sms)


def _when(at: datetime) -> str:
    """A moment as the owner reads it in a security notice: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
