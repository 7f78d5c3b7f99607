from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from sportslog_auth.deps import (
    Client,
    ConnectionsDep,
    ExchangeDep,
    FlowCookieDep,
    SignInDep,
    User,
)
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
from sportslog_auth.oauth import flow
from sportslog_auth.schemas import CodeChallenge, OAuthExchangeRequest, TokenResponse
from sportslog_common.errors import InvalidToken, ValidationFailed

router = APIRouter(tags=["sign-in with a provider"])

ProviderName = Annotated[
    str, Path(max_length=32, description="google, facebook, discord or a configured OIDC provider")
]


@router.get(
    "/auth/login/{provider}",
    status_code=status.HTTP_302_FOUND,
    response_class=Response,
    responses={
        302: {"description": "To the provider, with the flow cookie set"},
        **ProviderNotFound.openapi(),
        **ValidationFailed.openapi(),
        **OAuthProviderUnavailable.openapi(),
    },
)
async def begin(
    request: Request,
    provider: ProviderName,
    sign_in: SignInDep,
    flow_cookie: FlowCookieDep,
    redirect_to: Annotated[
        str | None,
        Query(
            max_length=flow.MAX_REDIRECT_TO,
            description="Where to send the browser back with a one-time `code`"
            " (APP_BASE_URL's origin or OAUTH_REDIRECT_ORIGINS); without it the callback"
            " answers with the token response",
        ),
    ] = None,
    code_challenge: Annotated[
        CodeChallenge | None,
        Query(
            description="Required with redirect_to: the base64url SHA-256 (PKCE S256) of a"
            " code_verifier the app keeps and sends to POST /auth/oauth/exchange"
        ),
    ] = None,
) -> Response:
    flows = flow_cookie.load(request)
    started = await sign_in.start(provider, flows, redirect_to, code_challenge)
    response = RedirectResponse(started.authorization_url, status_code=302)
    flow_cookie.store(response, started.flows)
    return response


@router.get(
    "/auth/callback/{provider}",
    response_model=TokenResponse,
    responses={
        302: {"description": "Back to redirect_to with `code` (or `error`)"},
        **ProviderNotFound.openapi(),
        **OAuthStateInvalid.openapi(),
        **OAuthProviderError.openapi(),
        **EmailNotVerified.openapi(),
        **OAuthProviderUnavailable.openapi(),
    },
)
async def callback(
    request: Request,
    provider: ProviderName,
    sign_in: SignInDep,
    flow_cookie: FlowCookieDep,
    client: Client,
) -> Response:
    query = request.query_params
    answer = flow.Callback(
        state=query.get("state", ""), code=query.get("code"), error=query.get("error")
    )
    flows = flow_cookie.load(request)
    result = await sign_in.finish(provider, flows, answer, client)
    response: Response
    if isinstance(result, flow.SentBack):
        response = RedirectResponse(result.url, status_code=302)
    else:
        response = JSONResponse(result.tokens.model_dump(), headers={"Cache-Control": "no-store"})
    flow_cookie.store(response, result.flows)
    return response


@router.post("/auth/oauth/exchange", responses=InvalidOrExpiredToken.openapi())
async def exchange(
    body: OAuthExchangeRequest, code_exchange: ExchangeDep, client: Client
) -> TokenResponse:
    return await code_exchange.exchange(body.code, body.code_verifier, client)


@router.delete(
    "/me/connections/{provider}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **InvalidToken.openapi(),
        **ConnectionNotFound.openapi(),
        **LastSignInMethod.openapi(),
    },
)
async def unlink(provider: ProviderName, connections: ConnectionsDep, user: User) -> None:
    await connections.unlink(user.id, provider)
