"""The auth service's state: its use cases, each built once in the lifespan with only the
parts it uses (STYLE.md §2.5), and read by the routes through deps.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sportslog_auth.credentials import Credentials
from sportslog_auth.keys import SigningKeys
from sportslog_auth.login import Login
from sportslog_auth.oauth.exchange_codes import CodeExchange
from sportslog_auth.oauth.flow import ProviderSignIn
from sportslog_auth.oauth.flow_cookie import FlowCookie
from sportslog_auth.oauth.linking import ProviderConnections
from sportslog_auth.oauth.providers import Provider
from sportslog_auth.otp import OneTimeCodes
from sportslog_auth.passwords import Passwords
from sportslog_auth.profile import Profiles
from sportslog_auth.registration import Registration
from sportslog_auth.sessions import Sessions
from sportslog_auth.settings import AuthSettings
from sportslog_auth.sms_budget import SmsBudget
from sportslog_auth.throttle import Rules, Throttle
from sportslog_auth.tokens import AccessTokenIssuer
from sportslog_common.db import Pool
from sportslog_common.jwt import JwksVerifier
from sportslog_common.sealing import Sealer


@dataclass(frozen=True)
class AuthState:
    sessions: Sessions
    login: Login
    registration: Registration
    credentials: Credentials
    codes: OneTimeCodes
    profiles: Profiles
    provider_sign_in: ProviderSignIn
    code_exchange: CodeExchange
    connections: ProviderConnections
    flow_cookie: FlowCookie
    passwords: Passwords  # the argon2 pool login, registration and credentials share
    jwks: dict[str, Any]  # the public keys, served at /.well-known/jwks.json

    @classmethod
    def build(
        cls,
        settings: AuthSettings,
        pool: Pool,
        keys: SigningKeys,
        providers: dict[str, Provider],
        passwords: Passwords,
        sms_budget: SmsBudget,
    ) -> AuthState:
        hmac_secret = settings.token_hmac_secret.get_secret_value().encode()
        issuer, audience = settings.jwt_issuer, settings.jwt_audience
        sessions = Sessions(
            pool,
            AccessTokenIssuer(
                keys=keys,
                issuer=issuer,
                audience=audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            ),
            JwksVerifier.for_keys(keys.jwks, issuer=issuer, audience=audience),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
            reuse_grace=timedelta(seconds=settings.refresh_reuse_grace_seconds),
        )
        rules = Rules.from_limits(
            settings.login_max_failures_per_account,
            settings.login_max_failures_per_ip,
            settings.otp_max_failures_per_day,
        )
        throttle = Throttle(hmac_secret, rules)
        sealer = Sealer(settings.event_seal_key.get_secret_value())
        token_key = settings.oauth_token_encryption_key
        credentials = Credentials(
            pool,
            passwords,
            throttle,
            sealer,
            sessions,
            reset_ttl=timedelta(seconds=settings.reset_token_ttl_seconds),
        )
        codes = OneTimeCodes(pool, throttle, sms_budget, sealer, sessions, code_secret=hmac_secret)
        return cls(
            sessions=sessions,
            login=Login(pool, passwords, throttle, sessions),
            registration=Registration(
                pool,
                passwords,
                throttle,
                sealer,
                sessions,
                link_ttl=timedelta(seconds=settings.verify_token_ttl_seconds),
            ),
            credentials=credentials,
            codes=codes,
            profiles=Profiles(pool, throttle, credentials, codes),
            provider_sign_in=ProviderSignIn(
                pool,
                providers,
                sessions,
                (
                    Sealer(token_key.get_secret_value(), context=b"sportslog.oauth-token.v1")
                    if token_key is not None
                    else None
                ),
                app_base_url=settings.app_base_url,
                redirect_origins=settings.redirect_origins(),
            ),
            code_exchange=CodeExchange(pool, sessions),
            connections=ProviderConnections(pool),
            flow_cookie=FlowCookie(
                hmac_secret, secure=settings.app_base_url.startswith("https://")
            ),
            passwords=passwords,
            jwks=keys.jwks,
        )
