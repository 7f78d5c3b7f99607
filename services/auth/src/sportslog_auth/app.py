from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI

from sportslog_auth.context import AuthState
from sportslog_auth.keys import load_signing_keys
from sportslog_auth.oauth.providers import configured_providers
from sportslog_auth.passwords import Passwords
from sportslog_auth.queries import pruning as pruning_sql
from sportslog_auth.routes import (
    internal,
    jwks,
    login,
    oauth,
    otp,
    passwords,
    profile,
    registration,
    sessions,
)
from sportslog_auth.settings import AuthSettings
from sportslog_auth.sms_budget import WINDOW as SMS_WINDOW
from sportslog_auth.sms_budget import SmsBudget
from sportslog_auth.throttle import HIT_RETENTION
from sportslog_common.logging import configure_logging
from sportslog_common.pruning import PruneRule
from sportslog_common.service import (
    broker,
    build_app,
    database,
    outbox_relay,
    periodic,
    pruning,
    ready_checks,
)

SMS_BUDGET_REFRESH_SECONDS = 60  # how stale sportslog_sms_budget_used_ratio may get


def prune_rules(settings: AuthSettings) -> list[PruneRule]:
    """What the periodic prune deletes, in this order: a session's tokens before it."""
    tokens = timedelta(days=settings.refresh_token_retention_days)
    sessions = timedelta(days=settings.session_retention_days)
    codes = timedelta(days=settings.otp_challenge_retention_days)
    pending = timedelta(days=settings.pending_registration_retention_days)
    return [
        PruneRule("refresh_tokens", pruning_sql.REFRESH_TOKENS, tokens),
        PruneRule("sessions", pruning_sql.SESSIONS, sessions),
        PruneRule("otp_challenges", pruning_sql.OTP_CHALLENGES, codes),
        PruneRule("pending_registrations", pruning_sql.PENDING_REGISTRATIONS, pending),
        PruneRule("throttle_hits", pruning_sql.THROTTLE_HITS, HIT_RETENTION),
        PruneRule("sms_sends", pruning_sql.SMS_SENDS, SMS_WINDOW),
        # Spent states and exchange codes are worth nothing once expired.
        PruneRule("oauth_spent_states", pruning_sql.OAUTH_SPENT_STATES, timedelta(0)),
        PruneRule("oauth_exchange_codes", pruning_sql.OAUTH_EXCHANGE_CODES, timedelta(0)),
    ]


def create_app(settings: AuthSettings) -> FastAPI:
    configure_logging("auth", settings.log_level, settings.log_format)
    keys = load_signing_keys(settings.jwt_private_key_file, settings.previous_public_key_files())
    providers = configured_providers(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await stack.enter_async_context(database(settings, "sportslog_auth"))
            connection = await stack.enter_async_context(broker(settings))
            await stack.enter_async_context(outbox_relay(pool, settings, connection))
            passwords = Passwords(
                settings.argon2_time_cost,
                settings.argon2_memory_kib,
                settings.argon2_parallelism,
                threads=settings.password_hash_threads,
                queue=settings.password_hash_queue,
                nice=settings.password_hash_nice,
            )
            stack.callback(passwords.close)
            await stack.enter_async_context(pruning(pool, settings, prune_rules(settings)))
            sms_budget = SmsBudget(settings.sms_daily_budget)
            await sms_budget.refresh(pool)
            await stack.enter_async_context(
                periodic(SMS_BUDGET_REFRESH_SECONDS, partial(sms_budget.refresh, pool))
            )
            app.state.pool = pool
            app.state.auth = AuthState.build(settings, pool, keys, providers, passwords, sms_budget)
            app.state.ready_checks = ready_checks(pool, connection)
            yield

    app = build_app("auth", lifespan)
    app.state.internal_auth = settings.internal_auth()
    app.include_router(registration.router)
    app.include_router(login.router)
    app.include_router(oauth.router)
    app.include_router(passwords.router)
    app.include_router(otp.router)
    app.include_router(profile.router)
    app.include_router(sessions.router)
    app.include_router(jwks.router)
    app.include_router(internal.router)
    return app
