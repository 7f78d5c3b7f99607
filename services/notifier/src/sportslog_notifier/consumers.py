"""Event type -> the message it sends. Ack only after the send is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import structlog
from pydantic import ValidationError

from sportslog_common.bus import PermanentError
from sportslog_common.db import Pool
from sportslog_common.events import (
    Envelope,
    EventData,
    UserRegistered,
    UserRegistrationAttempted,
    UserVerificationRequested,
    parse_data,
)
from sportslog_common.sealing import Sealer, SealError
from sportslog_notifier import deliveries
from sportslog_notifier.deliveries import Claim, Delivery
from sportslog_notifier.rendering import RenderedEmail, Renderer
from sportslog_notifier.senders.email import EmailSender, PermanentSendError, describe_failure

log = structlog.get_logger("sportslog.notifier")


class TransientSendError(Exception):
    """A send that may work later; its text is safe for logs and dead letters."""


@dataclass(frozen=True)
class Outgoing:
    to: str
    template: str
    email: RenderedEmail


@dataclass(frozen=True)
class Notifier:
    pool: Pool
    sealer: Sealer
    renderer: Renderer
    email_sender: EmailSender
    app_base_url: str

    def _link(self, path: str, token: str) -> str:
        return f"{self.app_base_url.rstrip('/')}/{path}?token={quote(token)}"

    def _verification(self, data: UserRegistered | UserVerificationRequested) -> Outgoing:
        link = self._link("verify-email", self.sealer.open(data.verify_token))
        return Outgoing(data.email, "verify_email", self.renderer.email("verify_email", link=link))

    def _account_exists(self, data: UserRegistrationAttempted) -> Outgoing:
        reset_link = f"{self.app_base_url.rstrip('/')}/forgot-password"
        email = self.renderer.email("account_exists", reset_link=reset_link)
        return Outgoing(data.email, "account_exists", email)

    def _compose(self, data: EventData) -> Outgoing | None:
        if isinstance(data, UserRegistered | UserVerificationRequested):
            return self._verification(data)
        if isinstance(data, UserRegistrationAttempted):
            return self._account_exists(data)
        return None  # other types arrive with the later templates (issue 5)

    async def handle(self, envelope: Envelope) -> None:
        try:
            data = parse_data(envelope)
            outgoing = self._compose(data)
        except (KeyError, ValidationError, SealError) as exc:
            raise PermanentError(f"cannot build a message: {type(exc).__name__}") from None
        if outgoing is None:
            return
        delivery = Delivery(envelope.id, envelope.type, "email", outgoing.to, outgoing.template)
        if await deliveries.claim(self.pool, delivery) is Claim.ALREADY_DONE:
            log.info("notification_duplicate_skipped", template=outgoing.template)
            return
        try:
            await self.email_sender.send(outgoing.to, outgoing.email)
        except PermanentSendError as exc:
            await deliveries.finish(self.pool, delivery, "dead", describe_failure(exc))
            raise PermanentError(describe_failure(exc)) from None
        except BaseException as exc:  # the handler timeout cancels us: release the lease too
            await deliveries.finish(self.pool, delivery, "failed", describe_failure(exc))
            if isinstance(exc, Exception):
                raise TransientSendError(describe_failure(exc)) from None
            raise
        await deliveries.finish(self.pool, delivery, "sent")
        log.info(
            "notification_sent", channel="email", template=outgoing.template, to=delivery.masked
        )
