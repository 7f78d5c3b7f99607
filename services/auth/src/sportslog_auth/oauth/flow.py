"""Sign-in with a provider, as RFC 9700 (the OAuth 2.0 Security BCP) asks: the flow from the
redirect to the provider to the callback.

- The flow's state, nonce and PKCE verifier (authlib makes them) ride in the flow cookie;
  the callback must bring back the state its own browser started, once.
- With `?redirect_to=` (an allowed origin only) the callback sends the browser back with a
  one-time code for `POST /auth/oauth/exchange`, never a token in a URL.

No HTTP here: the routes read the query and the cookie, and turn what these functions
return into the redirect, the token response and the cookie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# authlib talks to providers with httpx2 (httpx's maintained successor) when installed, so
# its transport errors are httpx2's: httpx's own classes would not catch them.
import httpx2
import structlog

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import (
    OAuthProviderError,
    OAuthProviderUnavailable,
    OAuthStateInvalid,
    ProviderNotFound,
)
from sportslog_auth.metrics import LOGINS
from sportslog_auth.oauth import exchange_codes, linking
from sportslog_auth.oauth.providers import FLOW_SECONDS, Identity, Provider
from sportslog_auth.queries import oauth_spent_states as state_sql
from sportslog_auth.schemas import TokenResponse
from sportslog_auth.sessions import Sessions
from sportslog_auth.settings import origin_of
from sportslog_auth.tokens import hash_token
from sportslog_common.db import Pool
from sportslog_common.errors import AppError, ValidationFailed
from sportslog_common.sealing import Sealer

log = structlog.get_logger("sportslog.auth.oauth")

MAX_REDIRECT_TO = 2048
_ERROR_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")

Flows = dict[str, Any]  # the flow cookie's content: authlib's state entries, by key


@dataclass(frozen=True)
class Started:
    authorization_url: str  # where the browser goes to sign in with the provider
    flows: Flows  # the flow cookie's new content, this flow added


@dataclass(frozen=True)
class Callback:
    """What the provider sent back to the callback."""

    state: str
    code: str | None
    error: str | None


@dataclass(frozen=True)
class SignedIn:
    """A flow begun without redirect_to: the callback answers with the tokens."""

    tokens: TokenResponse
    flows: Flows  # the flow cookie's new content, this flow spent


@dataclass(frozen=True)
class SentBack:
    """A flow begun with redirect_to: the browser goes back to the app with `code` or `error`."""

    url: str
    flows: Flows  # the flow cookie's new content, this flow spent


class ProviderSignIn:
    def __init__(
        self,
        pool: Pool,
        providers: dict[str, Provider],
        sessions: Sessions,
        token_sealer: Sealer | None,
        *,
        app_base_url: str,
        redirect_origins: frozenset[str],
    ) -> None:
        self._pool = pool
        self._providers = providers  # by path name
        self._sessions = sessions
        # OAUTH_TOKEN_ENCRYPTION_KEY: settings refuse a provider without it.
        self._token_sealer = token_sealer
        self._app_base_url = app_base_url.rstrip("/")
        self._redirect_origins = redirect_origins

    def callback_url(self, provider: str) -> str:
        return f"{self._app_base_url}/auth/callback/{provider}"

    async def start(
        self,
        name: str,
        flows: Flows,
        redirect_to: str | None,
        code_challenge: str | None,
    ) -> Started:
        provider = self._provider(name)
        if redirect_to is not None:
            self._check_redirect_to(redirect_to)
            if code_challenge is None:
                # Without it, a code an attacker got for their own account could be slipped
                # into a victim's app, signing the victim into the attacker's account.
                raise _invalid_query(
                    "code_challenge",
                    "required with redirect_to: base64url SHA-256 of a code_verifier the app"
                    " keeps for POST /auth/oauth/exchange",
                )
        redirect_uri = self.callback_url(name)
        try:
            # authlib makes state, PKCE's code_verifier and, for OIDC, the nonce.
            flow: dict[str, Any] = await provider.client.create_authorization_url(redirect_uri)
        except Exception as exc:  # the discovery document did not load, or is not one
            log.warning("oauth_provider_unreachable", provider=name, error=type(exc).__name__)
            raise OAuthProviderUnavailable() from None
        url, state = flow.pop("url"), flow.pop("state")
        flows = dict(flows)
        data = {
            **flow,
            "redirect_uri": redirect_uri,
            "redirect_to": redirect_to,
            "app_code_challenge": code_challenge,
        }
        await provider.client.framework.set_state_data(flows, state, data)
        return Started(url, flows)

    async def finish(
        self, name: str, flows: Flows, callback: Callback, client: ClientInfo
    ) -> SignedIn | SentBack:
        """The callback: the flow checked and spent, the provider's code traded for the
        user, the account found, linked or opened. An `AppError` of a flow begun with
        redirect_to becomes a `SentBack` with `?error=<code>`; any other is raised."""
        provider = self._provider(name)
        flows = dict(flows)
        state = callback.state
        data = await provider.client.framework.get_state_data(flows, state) if state else None
        if data is None:
            LOGINS.labels(name, "failure").inc()
            log.warning("oauth_state_rejected", provider=name, had_cookie=bool(flows))
            raise OAuthStateInvalid()
        await provider.client.framework.clear_state_data(flows, state)
        redirect_to: str | None = data.get("redirect_to")
        try:
            result = await self._sign_in(provider, callback, data, client, flows)
        except AppError as exc:
            LOGINS.labels(name, "failure").inc()
            if redirect_to is None:
                raise
            # The browser is the user's: send it back to the app with a code it can show.
            return SentBack(_with_query(redirect_to, error=exc.code), flows)
        LOGINS.labels(name, "success").inc()
        return result

    async def _sign_in(
        self,
        provider: Provider,
        callback: Callback,
        data: dict[str, Any],
        client: ClientInfo,
        flows: Flows,
    ) -> SignedIn | SentBack:
        expires_at = datetime.now(UTC) + timedelta(seconds=FLOW_SECONDS)
        async with self._pool.acquire() as conn:
            if not await state_sql.spend_state(conn, hash_token(callback.state), expires_at):
                log.warning("security_oauth_callback_replayed", provider=provider.name)
                raise OAuthStateInvalid("This sign-in was already completed; start again")
        if callback.error is not None:
            error = callback.error if _ERROR_CODE.match(callback.error) else "invalid_error"
            raise OAuthProviderError(f"The provider answered {error}")
        if not callback.code:
            raise OAuthProviderError("The provider sent no authorization code")
        token, identity = await _fetch_identity(provider, callback.code, data)
        redirect_to: str | None = data.get("redirect_to")
        sealer = self._token_sealer
        assert sealer is not None
        async with self._pool.acquire() as conn, conn.transaction():
            account = await linking.account_for(conn, sealer, provider.name, identity, token)
            if redirect_to is not None:
                code = await exchange_codes.issue(
                    conn, account.id, provider.name, data["app_code_challenge"]
                )
                return SentBack(_with_query(redirect_to, code=code), flows)
            tokens = await self._sessions.start(conn, client, account)
        return SignedIn(tokens, flows)

    def _provider(self, name: str) -> Provider:
        provider = self._providers.get(name)
        if provider is None:
            raise ProviderNotFound()
        return provider

    def _check_redirect_to(self, redirect_to: str) -> None:
        try:
            parts = urlsplit(redirect_to)
            allowed = (
                len(redirect_to) <= MAX_REDIRECT_TO
                and parts.scheme in ("http", "https")
                and parts.username is None
                and not any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in redirect_to)
                and origin_of(redirect_to) in self._redirect_origins
            )
        except ValueError:  # e.g. "https://[" or a netloc that changes under NFKC
            allowed = False
        if not allowed:
            raise _invalid_query(
                "redirect_to",
                "must be a URL on an allowed origin (APP_BASE_URL's or OAUTH_REDIRECT_ORIGINS)",
            )


async def _fetch_identity(
    provider: Provider, code: str, data: dict[str, Any]
) -> tuple[dict[str, Any], Identity]:
    """Trade the code (with the PKCE verifier) for tokens, check the ID token, read the user."""
    try:
        token: dict[str, Any] = dict(
            await provider.client.fetch_access_token(
                redirect_uri=data["redirect_uri"],
                code=code,
                code_verifier=data.get("code_verifier"),
            )
        )
        if provider.kind == "oidc":
            token["userinfo"] = await provider.checked_id_token(token, data.get("nonce"))
        return token, await provider.identity(token)
    except (httpx2.TransportError, httpx2.HTTPStatusError) as exc:
        status = exc.response.status_code if isinstance(exc, httpx2.HTTPStatusError) else None
        log.warning(
            "oauth_provider_failed", provider=provider.name, error=type(exc).__name__, status=status
        )
        if status is None or status >= 500:
            raise OAuthProviderUnavailable() from None
        raise OAuthProviderError() from None
    except Exception as exc:
        # Whatever the provider sent that authlib, joserfc or we refused (a bad grant, a
        # forged or malformed ID token, a body of the wrong shape). Only the type and the
        # RFC 6749 error code are logged: descriptions and claims may quote secrets.
        reason = getattr(exc, "error", None)
        log.warning(
            "oauth_provider_refused",
            provider=provider.name,
            error=type(exc).__name__,
            reason=reason if isinstance(reason, str) else None,
        )
        raise OAuthProviderError() from None


def _invalid_query(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": f"query.{field}", "message": message}])


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))
