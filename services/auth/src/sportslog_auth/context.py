"""What the auth use cases need, built once in the lifespan (STYLE.md §2.5)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sportslog_auth.oauth.flow_cookie import FlowCookie
from sportslog_auth.oauth.providers import Provider
from sportslog_auth.passwords import Passwords
from sportslog_auth.settings import AuthSettings
from sportslog_auth.sms_budget import SmsBudget
from sportslog_auth.throttle import Rule, Rules, Throttle
from sportslog_auth.tokens import AccessTokenIssuer
from sportslog_common.db import Pool
from sportslog_common.jwt import JwksVerifier
from sportslog_common.sealing import Sealer

PRODUCER = "auth"


@dataclass(frozen=True)
class AuthContext:
    settings: AuthSettings
    pool: Pool
    passwords: Passwords
    issuer: AccessTokenIssuer
    sealer: Sealer
    verifier: JwksVerifier  # auth's own tokens, against its own key set
    throttle: Throttle
    sms_budget: SmsBudget
    rules: Rules
    otp_secret: bytes  # TOKEN_HMAC_SECRET: codes are stored as HMAC-SHA256 under it
    providers: dict[str, Provider]  # sign-in providers by path name
    flow_cookie: FlowCookie
    provider_token_sealer: Sealer | None  # OAUTH_TOKEN_ENCRYPTION_KEY, when a provider is set


@dataclass(frozen=True)
class ClientInfo:
    user_agent: str | None
    ip: str | None

    def per_ip(self, rule: Rule) -> list[tuple[Rule, str]]:
        return [(rule, self.ip)] if self.ip else []

    def fingerprint(self) -> str:
        """Same user agent and IP, same fingerprint: what "the same client" means for a
        refresh race (DESIGN.md §9). A missing value differs from an empty one."""
        return hashlib.sha256(json.dumps([self.user_agent, self.ip]).encode()).hexdigest()
