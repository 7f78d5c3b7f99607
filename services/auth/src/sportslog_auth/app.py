from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from sportslog_auth.context import AuthContext
from sportslog_auth.keys import load_signing_keys
from sportslog_auth.passwords import Passwords
from sportslog_auth.routes import (
    internal,
    jwks,
    login,
    passwords,
    profile,
    registration,
    sessions,
)
from sportslog_auth.settings import AuthSettings
from sportslog_auth.tokens import AccessTokenIssuer
from sportslog_common.jwt import JwksVerifier
from sportslog_common.logging import configure_logging
from sportslog_common.sealing import Sealer
from sportslog_common.service import (
    broker,
    build_app,
    database,
    outbox_relay,
    ready_checks,
)


def create_app(settings: AuthSettings) -> FastAPI:
    configure_logging("auth", settings.log_level, settings.log_format)
    keys = load_signing_keys(settings.jwt_private_key_file, settings.previous_public_key_files())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = await stack.enter_async_context(database(settings, "sportslog_auth"))
            connection = await stack.enter_async_context(broker(settings))
            await stack.enter_async_context(outbox_relay(pool, settings, connection))
            passwords = Passwords(
                settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
            )
            stack.callback(passwords.close)
            app.state.pool = pool
            app.state.jwks = keys.jwks
            app.state.ctx = AuthContext(
                settings=settings,
                pool=pool,
                passwords=passwords,
                issuer=AccessTokenIssuer(
                    keys=keys,
                    issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience,
                    ttl_seconds=settings.access_token_ttl_seconds,
                ),
                sealer=Sealer(settings.event_seal_key.get_secret_value()),
                verifier=JwksVerifier.for_keys(
                    keys.jwks, issuer=settings.jwt_issuer, audience=settings.jwt_audience
                ),
            )
            app.state.ready_checks = ready_checks(pool, connection)
            yield

    app = build_app("auth", lifespan)
    app.include_router(registration.router)
    app.include_router(login.router)
    app.include_router(passwords.router)
    app.include_router(profile.router)
    app.include_router(sessions.router)
    app.include_router(jwks.router)
    app.include_router(internal.router)
    return app
