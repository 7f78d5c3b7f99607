"""A local OAuth2 / OpenID Connect provider for tests, and a browser to walk its flows.

One aiohttp server on a free port plays several providers at once, each under its own
path: OIDC ones (discovery, authorize with auto-consent, token, userinfo, JWKS; RS256 ID
tokens) as `/<name>/...`, plus a Facebook-shaped (`/facebook/dialog/oauth`,
`/facebook/oauth/access_token`, Graph `/facebook/me`) and a Discord-shaped one
(`/discord/oauth2/authorize`, `/discord/api/oauth2/token`, `/discord/api/users/@me`).
It checks what a real provider checks: the client's credentials, the redirect URI, PKCE
(S256), and that a code is used once. Knobs let a test make it misbehave.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from sportslog_testing.helpers import free_port

KINDS = {"facebook": "facebook", "discord": "discord"}  # any other name is an OIDC provider


@dataclass
class FakeUser:
    sub: str = field(default_factory=lambda: secrets.token_hex(8))
    email: str | None = None
    email_verified: bool = True
    name: str | None = "Fake Person"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    user: FakeUser
    used: bool = False


@dataclass
class FakeProvider:
    """One provider's clients, who consents next, and the knobs to make it misbehave."""

    name: str
    client_id: str
    client_secret: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: _rsa_key())
    kid: str = field(default_factory=lambda: secrets.token_hex(4))
    next_user: FakeUser | None = None
    deny_next: bool = False  # answer the next authorize with error=access_denied
    id_token_claims: dict[str, Any] = field(default_factory=dict)  # overrides, e.g. aud, nonce
    sign_with: rsa.RSAPrivateKey | None = None  # sign ID tokens with a key not in the JWKS
    token_requests: int = 0
    grants: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, FakeUser] = field(default_factory=dict)


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class OAuthProviderFake:
    def __init__(self, names: tuple[str, ...] = ("google", "keycloak", "facebook", "discord")):
        self.port = free_port()
        self.providers = {
            name: FakeProvider(name, f"{name}-client", f"{name}-secret-{secrets.token_hex(8)}")
            for name in names
        }
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def __getitem__(self, name: str) -> FakeProvider:
        return self.providers[name]

    def env(self) -> dict[str, str]:
        """The auth service's variables pointing every provider here."""
        env: dict[str, str] = {}
        for name, p in self.providers.items():
            if name == "google":
                env |= {
                    "GOOGLE_CLIENT_ID": p.client_id,
                    "GOOGLE_CLIENT_SECRET": p.client_secret,
                    "GOOGLE_SERVER_METADATA_URL": self.issuer(name)
                    + "/.well-known/openid-configuration",
                }
            elif name == "facebook":
                env |= {
                    "FACEBOOK_CLIENT_ID": p.client_id,
                    "FACEBOOK_CLIENT_SECRET": p.client_secret,
                    "FACEBOOK_AUTHORIZE_URL": f"{self.base_url}/facebook/dialog/oauth",
                    "FACEBOOK_TOKEN_URL": f"{self.base_url}/facebook/oauth/access_token",
                    "FACEBOOK_USERINFO_URL": f"{self.base_url}/facebook/me",
                }
            elif name == "discord":
                env |= {
                    "DISCORD_CLIENT_ID": p.client_id,
                    "DISCORD_CLIENT_SECRET": p.client_secret,
                    "DISCORD_AUTHORIZE_URL": f"{self.base_url}/discord/oauth2/authorize",
                    "DISCORD_TOKEN_URL": f"{self.base_url}/discord/api/oauth2/token",
                    "DISCORD_USERINFO_URL": f"{self.base_url}/discord/api/users/@me",
                }
            else:
                prefix = f"OIDC_{name.upper()}_"
                env |= {
                    prefix + "ISSUER": self.issuer(name),
                    prefix + "CLIENT_ID": p.client_id,
                    prefix + "CLIENT_SECRET": p.client_secret,
                }
        return env

    async def start(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get("/facebook/dialog/oauth", self._authorize)
        r.add_route("*", "/facebook/oauth/access_token", self._token)
        r.add_get("/facebook/me", self._userinfo)
        r.add_get("/discord/oauth2/authorize", self._authorize)
        r.add_post("/discord/api/oauth2/token", self._token)
        r.add_get("/discord/api/users/@me", self._userinfo)
        r.add_get("/{name}/.well-known/openid-configuration", self._discovery)
        r.add_get("/{name}/authorize", self._authorize)
        r.add_post("/{name}/token", self._token)
        r.add_get("/{name}/userinfo", self._userinfo)
        r.add_get("/{name}/jwks", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        """Back to honest behaviour (keys and issued grants are kept)."""
        for p in self.providers.values():
            p.next_user, p.deny_next, p.id_token_claims, p.sign_with = None, False, {}, None

    def _provider(self, request: web.Request) -> FakeProvider:
        name = request.match_info.get("name") or request.path.split("/")[1]
        if name not in self.providers:
            raise web.HTTPNotFound()
        return self.providers[name]

    async def _discovery(self, request: web.Request) -> web.Response:
        p = self._provider(request)
        if p.name in KINDS:
            raise web.HTTPNotFound()
        issuer = self.issuer(p.name)
        return web.json_response(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        p = self._provider(request)
        jwk = RSAAlgorithm.to_jwk(p.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**jwk, "kid": p.kid, "alg": "RS256", "use": "sig"}]})

    async def _authorize(self, request: web.Request) -> web.Response:
        """Auto-consent as `next_user`, as a provider would after the person clicks Allow."""
        p = self._provider(request)
        q = request.query
        if q.get("client_id") != p.client_id or q.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.json_response({"error": "invalid_request", "why": "PKCE"}, status=400)
        redirect_uri, state = q.get("redirect_uri", ""), q.get("state", "")
        if not redirect_uri or not state:
            return web.json_response({"error": "invalid_request"}, status=400)
        if p.deny_next:
            p.deny_next = False
            return _redirect(redirect_uri, error="access_denied", state=state)
        code = secrets.token_urlsafe(16)
        user = p.next_user or FakeUser(email=f"{secrets.token_hex(6)}@{p.name}.example")
        p.grants[code] = _Grant(
            p.client_id, redirect_uri, q["code_challenge"], q.get("nonce"), user
        )
        return _redirect(redirect_uri, code=code, state=state)

    async def _token(self, request: web.Request) -> web.Response:
        p = self._provider(request)
        p.token_requests += 1
        posted = await request.post() if request.method == "POST" else {}
        form: dict[str, str] = {**request.query, **{k: str(v) for k, v in posted.items()}}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != p.client_id or secret != p.client_secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = p.grants.get(form.get("code", ""))
        if grant is None or grant.used or grant.redirect_uri != form.get("redirect_uri"):
            return web.json_response({"error": "invalid_grant"}, status=400)
        grant.used = True  # a code works once (RFC 6749 §4.1.2)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.decode().rstrip("=") != grant.code_challenge:
            return web.json_response({"error": "invalid_grant", "why": "PKCE"}, status=400)
        access_token = secrets.token_urlsafe(24)
        p.tokens[access_token] = grant.user
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": secrets.token_urlsafe(24),
        }
        if p.name not in KINDS:
            body["id_token"] = self._id_token(p, grant)
        return web.json_response(body)

    def _id_token(self, p: FakeProvider, grant: _Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer(p.name),
            "aud": grant.client_id,
            "sub": grant.user.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": grant.user.email,
            "email_verified": grant.user.email_verified,
            "name": grant.user.name,
        }
        claims = {k: v for k, v in {**claims, **p.id_token_claims}.items() if v is not None}
        key = p.sign_with or p.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": p.kid})

    async def _userinfo(self, request: web.Request) -> web.Response:
        p = self._provider(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else request.query.get("access_token", "")
        user = p.tokens.get(token)
        if user is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        if p.name == "facebook":
            fields = request.query.get("fields", "id").split(",")
            data = {"id": user.sub, "name": user.name, "email": user.email}
            return web.json_response({k: v for k, v in data.items() if k in fields and v})
        if p.name == "discord":
            return web.json_response(
                {
                    "id": user.sub,
                    "username": (user.name or "user").lower().replace(" ", ""),
                    "global_name": user.name,
                    "email": user.email,
                    "verified": user.email_verified,
                }
            )
        return web.json_response(
            {
                "sub": user.sub,
                "email": user.email,
                "email_verified": user.email_verified,
                "name": user.name,
            }
        )


def _redirect(uri: str, **params: str) -> web.Response:
    sep = "&" if urlsplit(uri).query else "?"
    raise web.HTTPFound(uri + sep + urlencode(params))


@dataclass
class Flow:
    """One sign-in as a browser walks it: the flow cookie, then each hop's response."""

    cookie: str | None = None
    authorize_url: str | None = None
    callback_url: str | None = None  # path and query, relative to the app
    response: httpx.Response | None = None


class OAuthBrowser:
    """Walks a sign-in the way a browser would: the app (through `app`, an httpx client on
    the gateway or on auth itself) redirects to the provider, the provider redirects back
    to APP_BASE_URL, whose path this replays on `app`. Cookies are carried by hand so that
    attacks can swap them."""

    def __init__(self, app: httpx.AsyncClient, app_base_url: str) -> None:
        self.app = app
        self.app_base_url = app_base_url.rstrip("/")

    async def start(self, provider: str, **params: str) -> Flow:
        response = await self.app.get(f"/auth/login/{provider}", params=params)
        assert response.status_code == 302, response.text
        cookie = next(
            (
                c.split(";", 1)[0]
                for c in response.headers.get_list("set-cookie")
                if c.startswith("sportslog_oauth=")
            ),
            None,
        )
        return Flow(cookie=cookie, authorize_url=response.headers["location"])

    async def consent(self, flow: Flow) -> Flow:
        assert flow.authorize_url is not None
        async with httpx.AsyncClient(timeout=10) as provider:
            response = await provider.get(flow.authorize_url)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(self.app_base_url + "/"), location
        flow.callback_url = location[len(self.app_base_url) :]
        return flow

    async def finish(self, flow: Flow, cookie: str | None = None) -> httpx.Response:
        """The callback, with the flow's cookie unless another (or "") is given."""
        assert flow.callback_url is not None
        sent = flow.cookie if cookie is None else cookie
        headers = {"Cookie": sent} if sent else {}
        flow.response = await self.app.get(flow.callback_url, headers=headers)
        return flow.response

    async def sign_in(self, provider: str, **params: str) -> httpx.Response:
        return await self.finish(await self.consent(await self.start(provider, **params)))


def pkce_pair() -> tuple[str, str]:
    """An app's (code_verifier, S256 code_challenge) for a redirect_to flow."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.fixture(scope="session")
async def oauth_provider_server() -> AsyncIterator[OAuthProviderFake]:
    fake = OAuthProviderFake()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def oauth_fake(oauth_provider_server: OAuthProviderFake) -> OAuthProviderFake:
    """The session's fake providers, honest again for this test."""
    oauth_provider_server.reset()
    return oauth_provider_server
