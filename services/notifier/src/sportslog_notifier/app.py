"""The notifier: a consumer process with `/health`, `/ready` and `/metrics` over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from sportslog_common.bus.consumer import Consumer
from sportslog_common.logging import configure_logging
from sportslog_common.pruning import PruneRule
from sportslog_common.sealing import Sealer
from sportslog_common.service import broker, build_app, database, pruning, ready_checks
from sportslog_notifier import queries
from sportslog_notifier.consumers import Notifier
from sportslog_notifier.rendering import Renderer
from sportslog_notifier.senders.email import EmailSender, SmtpEmailSender
from sportslog_notifier.senders.sms import SmsSender
from sportslog_notifier.senders.sms import sms_sender as sms_sender_for
from sportslog_notifier.settings import NotifierSettings


def prune_rules(settings: NotifierSettings) -> list[PruneRule]:
    """What the periodic prune deletes."""
    retention = timedelta(days=settings.delivery_retention_days)
    return [PruneRule("deliveries", queries.PRUNE_DELIVERIES, retention)]


def create_app(
    settings: NotifierSettings,
    *,
    email_sender: EmailSender | None = None,
    sms: SmsSender | None = None,
) -> FastAPI:
    configure_logging("notifier", settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await stack.enter_async_context(database(settings, "sportslog_notifier"))
            connection = await stack.enter_async_context(broker(settings))
            sms_sender = sms or sms_sender_for(settings)
            stack.push_async_callback(sms_sender.close)
            notifier = Notifier(
                pool=pool,
                sealer=Sealer(settings.event_seal_key.get_secret_value()),
                renderer=Renderer(settings.product_name),
                email_sender=email_sender or SmtpEmailSender(settings),
                sms_sender=sms_sender,
                app_base_url=settings.app_base_url,
                lease_seconds=settings.delivery_lease_seconds,
            )
            consumer = Consumer.for_service(
                connection,
                settings,
                "notifier",
                notifier.handle,
                prefetch=settings.prefetch,
                backoff_base=settings.retry_backoff_base,
            )
            await consumer.start()
            # On SIGTERM: stop taking messages and finish the ones in flight.
            stack.push_async_callback(consumer.stop)
            await stack.enter_async_context(pruning(pool, settings, prune_rules(settings)))
            app.state.pool = pool
            app.state.ready_checks = ready_checks(pool, connection)
            yield

    return build_app("notifier", lifespan)
