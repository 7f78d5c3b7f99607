"""What the gateway routes need, built once in the lifespan and read through deps.py."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from sportslog_common.jwt import JwksVerifier
from sportslog_gateway.clients import Network
from sportslog_gateway.openapi import OpenApiMerger
from sportslog_gateway.ratelimit import RateLimits
from sportslog_gateway.revocations import RevocationCache
from sportslog_gateway.settings import GatewaySettings


@dataclass(frozen=True)
class GatewayContext:
    settings: GatewaySettings
    session: aiohttp.ClientSession  # the one pooled upstream session (DESIGN.md §8)
    verifier: JwksVerifier  # auth's tokens, against auth's key set (JWKS_URL)
    revocations: RevocationCache  # fed by auth's events, per replica
    openapi: OpenApiMerger
    limits: RateLimits
    trusted_proxies: list[Network]  # TRUSTED_PROXIES, parsed
    upstream_urls: dict[str, str]  # base URL by upstream name (upstreams.py)
