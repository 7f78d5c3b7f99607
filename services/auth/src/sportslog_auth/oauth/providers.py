"""The configured providers: one authlib client each, and how each one names its user.

OIDC providers (Google, OIDC_<NAME>_*) are read from their discovery document and prove
the user with a signed ID token (iss, aud, exp, nonce checked by authlib). Facebook and
Discord are plain OAuth2: the user comes from their API with the access token.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import truststore
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

from sportslog_auth.settings import AuthSettings

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
FLOW_SECONDS = 600  # state, nonce and PKCE verifier live this long (DESIGN.md §8)

Kind = Literal["oidc", "facebook", "discord"]


class ProviderRefused(Exception):
    """The provider's answer cannot sign anyone in (no subject, a mismatched userinfo)."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in."""

    uid: str
    email: str | None
    email_verified: bool  # the provider vouches that this person owns the address
    name: str | None


@dataclass(frozen=True)
class Provider:
    name: str  # the path segment and the metric label
    kind: Kind
    client: StarletteOAuth2App
    userinfo_url: str | None = None

    async def identity(self, token: Mapping[str, Any]) -> Identity:
        if self.kind == "oidc":
            return await self._oidc_identity(token)
        if self.kind == "facebook":
            # Graph returns `email` only for an address the person confirmed with Facebook.
            data = await self._get(token, {"fields": "id,name,email"})
            email = _text(data.get("email"))
            return Identity(_uid(data.get("id")), email, email is not None, _text(data.get("name")))
        data = await self._get(token, {})  # Discord: identify + email scopes
        return Identity(
            _uid(data.get("id")),
            _text(data.get("email")),
            data.get("verified") is True,
            _text(data.get("global_name") or data.get("username")),
        )

    async def checked_id_token(self, token: dict[str, Any], nonce: str | None) -> dict[str, Any]:
        """The ID token's claims once its signature (an asymmetric algorithm the issuer
        lists, a key from its JWKS), iss, aud, exp and nonce hold. No ID token, no sign-in."""
        if not isinstance(token.get("id_token"), str) or not nonce:
            raise ProviderRefused("the provider sent no ID token")
        metadata = await self.client.load_server_metadata()
        listed = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Never "none" or an HMAC keyed with our client secret, whatever the document says.
        metadata["id_token_signing_alg_values_supported"] = [
            alg for alg in listed if alg in ASYMMETRIC_ALGORITHMS
        ] or ["RS256"]
        claims = await self.client.parse_id_token(
            token,
            nonce=nonce,
            claims_options={
                "iss": {"essential": True, "value": metadata.get("issuer")},
                "aud": {"essential": True, "value": self.client.client_id},
            },
        )
        return dict(claims)

    async def _oidc_identity(self, token: Mapping[str, Any]) -> Identity:
        claims = dict(token["userinfo"])  # what checked_id_token returned
        if "sub" not in claims:
            raise ProviderRefused("the ID token names no subject")
        if "email" not in claims:  # some providers keep the email for the userinfo endpoint
            info = await self.client.userinfo(token=dict(token))
            if not isinstance(info, Mapping) or info.get("sub") != claims["sub"]:
                raise ProviderRefused("userinfo is about another subject")
            claims.update({k: info[k] for k in ("email", "email_verified", "name") if k in info})
        verified = claims.get("email_verified") in (True, "true")
        return Identity(
            _uid(claims["sub"]), _text(claims.get("email")), verified, _text(claims.get("name"))
        )

    async def _get(self, token: Mapping[str, Any], params: dict[str, str]) -> dict[str, Any]:
        assert self.userinfo_url is not None
        response = await self.client.get(self.userinfo_url, token=dict(token), params=params)
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, dict):
            raise ProviderRefused("the user endpoint did not answer with an object")
        return data


def _uid(value: object) -> str:
    if (
        not isinstance(value, str | int)
        or isinstance(value, bool)
        or not 0 < len(str(value)) <= 255
    ):
        raise ProviderRefused("the provider named no usable user id")
    return str(value)


def _text(value: object) -> str | None:
    return value[:255] if isinstance(value, str) and value else None


def configured_providers(settings: AuthSettings) -> dict[str, Provider]:
    """Every provider whose client id is set, by path name."""
    oauth = OAuth()
    common = {
        "code_challenge_method": "S256",
        "timeout": settings.oauth_provider_timeout_seconds,
        # authlib opens a client per call; building its TLS context each time costs ~60 ms
        # of event loop, so every client shares one (the system trust store, as httpx2's).
        "verify": truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
    }
    providers: dict[str, Provider] = {}

    def add(name: str, kind: Kind, userinfo_url: str | None = None, **config: Any) -> None:
        client = oauth.register(name, **config)
        client.framework.expires_in = FLOW_SECONDS
        providers[name] = Provider(name, kind, client, userinfo_url)

    oidc_scope = {**common, "scope": "openid email profile"}
    if settings.google_client_id:
        add(
            "google",
            "oidc",
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            server_metadata_url=settings.google_server_metadata_url,
            client_kwargs=oidc_scope,
        )
    for name, oidc in sorted(settings.oidc_providers.items()):
        add(
            name,
            "oidc",
            client_id=oidc.client_id,
            client_secret=oidc.client_secret.get_secret_value(),
            server_metadata_url=oidc.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs=oidc_scope,
        )
    # Plain OAuth2: the user comes from the provider's API (FACEBOOK_* / DISCORD_* URLs).
    plain: tuple[tuple[Kind, str, dict[str, str]], ...] = (
        ("facebook", "email public_profile", {"token_endpoint_auth_method": "client_secret_post"}),
        ("discord", "identify email", {}),
    )
    for name, scope, extra in plain:
        if getattr(settings, f"{name}_client_id"):
            add(
                name,
                name,
                getattr(settings, f"{name}_userinfo_url"),
                client_id=getattr(settings, f"{name}_client_id"),
                client_secret=getattr(settings, f"{name}_client_secret").get_secret_value(),
                authorize_url=getattr(settings, f"{name}_authorize_url"),
                access_token_url=getattr(settings, f"{name}_token_url"),
                client_kwargs={**common, "scope": scope, **extra},
            )
    return providers
