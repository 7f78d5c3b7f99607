"""Sign-in with a provider, as RFC 9700 (the OAuth 2.0 Security BCP) asks.

- The flow's state, nonce and PKCE verifier (authlib makes them) ride in a signed cookie;
  the callback must bring back the state its own browser started, once.
- A provider identity signs in the account it is linked to. A new identity links to an
  existing account only when the provider vouches for the email; an unverified email
  neither links nor opens an account (someone could claim another person's address).
- With `?redirect_to=` (an allowed origin only) the callback sends the browser back with a
  one-time code for `POST /auth/oauth/exchange`, never a token in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# authlib talks to providers with httpx2 (httpx's maintained successor) when installed.
import httpx2
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from sportslog_auth.context import AuthContext, ClientInfo
from sportslog_auth.errors import (
    ConnectionNotFound,
    EmailNotVerified,
    InvalidOrExpiredToken,
    LastSignInMethod,
    OAuthProviderError,
    OAuthProviderUnavailable,
    OAuthStateInvalid,
    ProviderNotFound,
)
from sportslog_auth.metrics import LOGINS, USERS_REGISTERED
from sportslog_auth.oauth.providers import FLOW_SECONDS, Identity, Provider
from sportslog_auth.queries import oauth as oauth_sql
from sportslog_auth.queries import registrations as registrations_sql
from sportslog_auth.queries import users as user_sql
from sportslog_auth.schemas import TokenResponse, provider_display_name, provider_email
from sportslog_auth.sessions import CurrentUser, start_session
from sportslog_auth.settings import origin_of
from sportslog_auth.tokens import hash_token, random_token
from sportslog_common.db import Connection
from sportslog_common.errors import AppError, ValidationFailed

log = structlog.get_logger("sportslog.auth.oauth")

EXCHANGE_CODE_TTL = timedelta(seconds=60)
MAX_REDIRECT_TO = 2048
_ERROR_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class _Account:
    id: uuid.UUID
    email: str
    token_version: int


def _provider(ctx: AuthContext, name: str) -> Provider:
    provider = ctx.providers.get(name)
    if provider is None:
        raise ProviderNotFound()
    return provider


def _check_redirect_to(ctx: AuthContext, redirect_to: str) -> None:
    try:
        parts = urlsplit(redirect_to)
        allowed = (
            len(redirect_to) <= MAX_REDIRECT_TO
            and parts.scheme in ("http", "https")
            and parts.username is None
            and not any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in redirect_to)
            and origin_of(redirect_to) in ctx.settings.redirect_origins()
        )
    except ValueError:  # e.g. "https://[" or a netloc that changes under NFKC
        allowed = False
    if not allowed:
        raise _invalid_query(
            "redirect_to",
            "must be a URL on an allowed origin (APP_BASE_URL's or OAUTH_REDIRECT_ORIGINS)",
        )


def _invalid_query(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": f"query.{field}", "message": message}])


def callback_url(ctx: AuthContext, provider: str) -> str:
    return f"{ctx.settings.app_base_url.rstrip('/')}/auth/callback/{provider}"


async def begin(
    ctx: AuthContext,
    request: Request,
    name: str,
    redirect_to: str | None,
    code_challenge: str | None,
) -> Response:
    provider = _provider(ctx, name)
    if redirect_to is not None:
        _check_redirect_to(ctx, redirect_to)
        if code_challenge is None:
            # Without it, a code an attacker got for their own account could be slipped
            # into a victim's app, signing the victim into the attacker's account.
            raise _invalid_query(
                "code_challenge",
                "required with redirect_to: base64url SHA-256 of a code_verifier the app"
                " keeps for POST /auth/oauth/exchange",
            )
    redirect_uri = callback_url(ctx, name)
    try:
        # authlib makes state, PKCE's code_verifier and, for OIDC, the nonce.
        flow: dict[str, Any] = await provider.client.create_authorization_url(redirect_uri)
    except Exception as exc:  # the discovery document did not load, or is not one
        log.warning("oauth_provider_unreachable", provider=name, error=type(exc).__name__)
        raise OAuthProviderUnavailable() from None
    url, state = flow.pop("url"), flow.pop("state")
    flows = ctx.flow_cookie.load(request)
    data = {
        **flow,
        "redirect_uri": redirect_uri,
        "redirect_to": redirect_to,
        "app_code_challenge": code_challenge,
    }
    await provider.client.framework.set_state_data(flows, state, data)
    response = RedirectResponse(url, status_code=302)
    ctx.flow_cookie.store(response, flows)
    return response


async def complete(ctx: AuthContext, request: Request, name: str, client: ClientInfo) -> Response:
    provider = _provider(ctx, name)
    flows = ctx.flow_cookie.load(request)
    state = request.query_params.get("state", "")
    data = await provider.client.framework.get_state_data(flows, state) if state else None
    if data is None:
        LOGINS.labels(name, "failure").inc()
        log.warning("oauth_state_rejected", provider=name, had_cookie=bool(flows))
        raise OAuthStateInvalid()
    await provider.client.framework.clear_state_data(flows, state)
    redirect_to: str | None = data.get("redirect_to")
    try:
        response = await _complete(ctx, request, provider, state, data, client)
    except AppError as exc:
        LOGINS.labels(name, "failure").inc()
        if redirect_to is None:
            raise
        # The browser is the user's: send it back to the app with a code it can show.
        response = RedirectResponse(_with_query(redirect_to, error=exc.code), status_code=302)
    else:
        LOGINS.labels(name, "success").inc()
    ctx.flow_cookie.store(response, flows)
    return response


async def _complete(
    ctx: AuthContext,
    request: Request,
    provider: Provider,
    state: str,
    data: dict[str, Any],
    client: ClientInfo,
) -> Response:
    expires_at = datetime.now(UTC) + timedelta(seconds=FLOW_SECONDS)
    async with ctx.pool.acquire() as conn:
        if not await oauth_sql.spend_state(conn, hash_token(state), expires_at):
            log.warning("security_oauth_callback_replayed", provider=provider.name)
            raise OAuthStateInvalid("This sign-in was already completed; start again")
    error = request.query_params.get("error")
    if error is not None:
        error = error if _ERROR_CODE.match(error) else "invalid_error"
        raise OAuthProviderError(f"The provider answered {error}")
    code = request.query_params.get("code")
    if not code:
        raise OAuthProviderError("The provider sent no authorization code")
    token, identity = await _fetch_identity(provider, code, data)
    redirect_to: str | None = data.get("redirect_to")
    async with ctx.pool.acquire() as conn, conn.transaction():
        account = await _account(conn, ctx, provider.name, identity, token)
        if redirect_to is not None:
            one_time = random_token()
            await oauth_sql.insert_exchange_code(
                conn,
                hash_token(one_time),
                account.id,
                provider.name,
                data["app_code_challenge"],
                datetime.now(UTC) + EXCHANGE_CODE_TTL,
            )
            return RedirectResponse(_with_query(redirect_to, code=one_time), status_code=302)
        tokens = await start_session(
            conn,
            ctx,
            client,
            user_id=account.id,
            email=account.email,
            token_version=account.token_version,
        )
    return JSONResponse(tokens.model_dump(), headers={"Cache-Control": "no-store"})


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


async def _account(
    conn: Connection, ctx: AuthContext, provider: str, identity: Identity, token: dict[str, Any]
) -> _Account:
    """The account this identity signs in, linking or creating it; the connection saved."""
    row = await oauth_sql.find_linked_user(conn, provider, identity.uid)
    email = provider_email(identity.email)
    if row is None:
        if email is None or not identity.email_verified:
            raise EmailNotVerified(
                f"Your {provider} account has no email address it has confirmed;"
                " sign in another way"
            )
        row = await oauth_sql.lock_user_by_email(conn, email)
        if row is None:
            row = await oauth_sql.insert_oauth_user(
                conn, email, provider_display_name(identity.name)
            )
            if row is not None:
                USERS_REGISTERED.inc()
            else:  # registered at this very moment by someone else's request
                row = await oauth_sql.lock_user_by_email(conn, email)
                assert row is not None
                await _claim_inbox(conn, row["id"], provider)
        else:
            await _claim_inbox(conn, row["id"], provider)
    sealer = ctx.provider_token_sealer
    assert sealer is not None  # settings refuse a provider without OAUTH_TOKEN_ENCRYPTION_KEY
    access_token, refresh_token = token.get("access_token"), token.get("refresh_token")
    expires_at = token.get("expires_at")
    await oauth_sql.upsert_connection(
        conn,
        row["id"],
        provider,
        identity.uid,
        email,
        sealer.seal(access_token) if isinstance(access_token, str) else None,
        sealer.seal(refresh_token) if isinstance(refresh_token, str) else None,
        _timestamp(expires_at),
    )
    return _Account(row["id"], row["email"], row["token_version"])


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None
    except (OverflowError, OSError, ValueError):
        return None


async def _claim_inbox(conn: Connection, user_id: uuid.UUID, provider: str) -> None:
    """The provider proved the inbox: a password someone set on this address before its
    owner verified it must not survive (pre-account-takeover), as with email codes."""
    await registrations_sql.discard_all(conn, user_id)
    await user_sql.mark_email_verified(conn, user_id)
    log.info("oauth_linked_by_email", provider=provider, user_id=str(user_id))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def exchange(
    ctx: AuthContext, code: str, code_verifier: str, client: ClientInfo
) -> TokenResponse:
    """Spend a one-time code from a redirect, with the verifier of the challenge the app
    sent when it began the flow: the tokens of a fresh session."""
    tokens = None
    async with ctx.pool.acquire() as conn, conn.transaction():
        row = await oauth_sql.take_exchange_code(conn, hash_token(code))
        # A wrong verifier burns the code all the same: the delete commits either way.
        if row is not None and hmac.compare_digest(s256(code_verifier), row["code_challenge"]):
            tokens = await start_session(
                conn,
                ctx,
                client,
                user_id=row["id"],
                email=row["email"],
                token_version=row["token_version"],
            )
    if tokens is None:
        raise InvalidOrExpiredToken()
    return tokens


async def unlink(ctx: AuthContext, user: CurrentUser, provider: str) -> None:
    async with ctx.pool.acquire() as conn, conn.transaction():
        methods = await oauth_sql.sign_in_methods(conn, user.id)
        if methods is None or provider not in methods["providers"]:
            raise ConnectionNotFound()
        others = [p for p in methods["providers"] if p != provider]
        if not methods["has_password"] and not others:
            raise LastSignInMethod()
        await oauth_sql.delete_connections(conn, user.id, provider)
