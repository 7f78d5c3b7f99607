"""Annotated dependencies: a handler's signature states which use case it calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from sportslog_auth.client import ClientInfo
from sportslog_auth.context import AuthState
from sportslog_auth.credentials import Credentials
from sportslog_auth.login import Login
from sportslog_auth.oauth.exchange_codes import CodeExchange
from sportslog_auth.oauth.flow import ProviderSignIn
from sportslog_auth.oauth.flow_cookie import FlowCookie
from sportslog_auth.oauth.linking import ProviderConnections
from sportslog_auth.otp import OneTimeCodes
from sportslog_auth.profile import Profiles
from sportslog_auth.registration import Registration
from sportslog_auth.sessions import CurrentUser, Sessions
from sportslog_common.errors import InvalidToken
from sportslog_common.internal_auth import HEADER, InternalAuth
from sportslog_common.jwt import bearer_token


def _state(request: Request) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


def _client(request: Request) -> ClientInfo:
    # Auth is reached only through the gateway, which appends the client to X-Forwarded-For.
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    ip = hops[-1] if hops else (request.client.host if request.client else None)
    user_agent = request.headers.get("user-agent")
    return ClientInfo(user_agent=user_agent[:512] if user_agent else None, ip=ip)


def require_internal_call(request: Request) -> None:
    """Auth's `/internal/` endpoints answer only a call signed with INTERNAL_API_KEY."""
    internal: InternalAuth = request.app.state.internal_auth
    if not internal.verify(request.headers.get(HEADER), request.method, request.url.path):
        raise InvalidToken("Missing or invalid internal credential", reason="internal")


State = Annotated[AuthState, Depends(_state)]


async def _current_user(
    state: State, authorization: Annotated[str | None, Header(include_in_schema=False)] = None
) -> CurrentUser:
    return await state.sessions.authenticate(bearer_token(authorization))


User = Annotated[CurrentUser, Depends(_current_user)]
Client = Annotated[ClientInfo, Depends(_client)]


# One per use case, as the FastAPI template's SessionDep: a route asks for what it calls.
def _sessions(state: State) -> Sessions:
    return state.sessions


def _login(state: State) -> Login:
    return state.login


def _registration(state: State) -> Registration:
    return state.registration


def _credentials(state: State) -> Credentials:
    return state.credentials


def _codes(state: State) -> OneTimeCodes:
    return state.codes


def _profiles(state: State) -> Profiles:
    return state.profiles


def _provider_sign_in(state: State) -> ProviderSignIn:
    return state.provider_sign_in


def _code_exchange(state: State) -> CodeExchange:
    return state.code_exchange


def _connections(state: State) -> ProviderConnections:
    return state.connections


def _flow_cookie(state: State) -> FlowCookie:
    return state.flow_cookie


def _jwks(state: State) -> dict[str, Any]:
    return state.jwks


SessionsDep = Annotated[Sessions, Depends(_sessions)]
LoginDep = Annotated[Login, Depends(_login)]
RegistrationDep = Annotated[Registration, Depends(_registration)]
CredentialsDep = Annotated[Credentials, Depends(_credentials)]
CodesDep = Annotated[OneTimeCodes, Depends(_codes)]
ProfilesDep = Annotated[Profiles, Depends(_profiles)]
SignInDep = Annotated[ProviderSignIn, Depends(_provider_sign_in)]
ExchangeDep = Annotated[CodeExchange, Depends(_code_exchange)]
ConnectionsDep = Annotated[ProviderConnections, Depends(_connections)]
FlowCookieDep = Annotated[FlowCookie, Depends(_flow_cookie)]
Jwks = Annotated[dict[str, Any], Depends(_jwks)]
