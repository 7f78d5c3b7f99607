"""oauth/flow.py's ProviderSignIn called with plain values: flows in, a URL or tokens and the new flows out,
no request and no response. The HTTP around it is tested in test_oauth.py."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from sportslog_auth.client import ClientInfo
from sportslog_auth.errors import InvalidOrExpiredToken, OAuthProviderError, OAuthStateInvalid
from sportslog_auth.oauth import flow
from sportslog_auth.schemas import TokenResponse
from sportslog_common.errors import ValidationFailed
from sportslog_testing import FakeUser, pkce_pair

APP = "http://auth"
CLIENT = ClientInfo(user_agent="pytest", ip="127.0.0.1")


@pytest.fixture
def settings(settings, oauth_fake):
    env = oauth_fake.env()
    return settings.model_copy(
        update={
            "app_base_url": APP,
            "oauth_token_encryption_key": SecretStr("a" * 43 + "="),
            "oauth_redirect_origins": "https://app.example",
            "google_client_id": env["GOOGLE_CLIENT_ID"],
            "google_client_secret": SecretStr(env["GOOGLE_CLIENT_SECRET"]),
            "google_server_metadata_url": env["GOOGLE_SERVER_METADATA_URL"],
        }
    )


@pytest.fixture
def auth(app):
    return app.state.auth


async def consent(started: flow.Started) -> flow.Callback:
    """The provider's side: it signs the person in and sends the browser to the callback."""
    async with httpx.AsyncClient(timeout=10) as provider:
        r = await provider.get(started.authorization_url)
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(f"{APP}/auth/callback/google?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return flow.Callback(state=query["state"], code=query.get("code"), error=query.get("error"))


class TestStart:
    async def test_returns_the_authorization_url_and_adds_the_flow(self, auth):
        earlier: flow.Flows = {}
        started = await auth.provider_sign_in.start("google", earlier, None, None)
        query = parse_qs(urlsplit(started.authorization_url).query)
        assert query["redirect_uri"] == [f"{APP}/auth/callback/google"]
        assert query["code_challenge_method"] == ["S256"]
        assert set(query) >= {"state", "nonce", "code_challenge"}
        (entry,) = started.flows.values()
        assert entry["data"]["redirect_to"] is None
        assert earlier == {}  # the caller's flows are left as they were

    async def test_keeps_redirect_to_and_the_apps_challenge_for_the_callback(self, auth):
        _, challenge = pkce_pair()
        started = await auth.provider_sign_in.start(
            "google", {}, "https://app.example/x", challenge
        )
        (entry,) = started.flows.values()
        assert entry["data"]["redirect_to"] == "https://app.example/x"
        assert entry["data"]["app_code_challenge"] == challenge

    @pytest.mark.parametrize(
        ("redirect_to", "challenge", "field"),
        [
            ("https://evil.example/", "c" * 43, "query.redirect_to"),
            ("https://app.example/", None, "query.code_challenge"),
        ],
    )
    async def test_refuses_a_foreign_redirect_or_a_missing_challenge(
        self, auth, redirect_to, challenge, field
    ):
        with pytest.raises(ValidationFailed) as refused:
            await auth.provider_sign_in.start("google", {}, redirect_to, challenge)
        assert refused.value.details[0]["field"] == field


class TestFinish:
    async def test_signs_in_and_spends_the_flow(self, auth, oauth_fake, new_email):
        oauth_fake["google"].next_user = FakeUser(email=new_email())
        started = await auth.provider_sign_in.start("google", {}, None, None)
        callback = await consent(started)

        result = await auth.provider_sign_in.finish("google", started.flows, callback, CLIENT)
        assert isinstance(result, flow.SignedIn)
        assert isinstance(result.tokens, TokenResponse)
        assert result.flows == {}
        with pytest.raises(OAuthStateInvalid):  # the same callback again
            await auth.provider_sign_in.finish("google", started.flows, callback, CLIENT)

    async def test_redirect_to_gets_a_code_the_apps_verifier_exchanges(
        self, auth, oauth_fake, new_email
    ):
        verifier, challenge = pkce_pair()
        oauth_fake["google"].next_user = FakeUser(email=new_email())
        started = await auth.provider_sign_in.start(
            "google", {}, "https://app.example/in?a=1", challenge
        )

        result = await auth.provider_sign_in.finish(
            "google", started.flows, await consent(started), CLIENT
        )
        assert isinstance(result, flow.SentBack)
        assert result.url.startswith("https://app.example/in?a=1&code=")
        code = parse_qs(urlsplit(result.url).query)["code"][0]
        tokens = await auth.code_exchange.exchange(code, verifier, CLIENT)
        assert isinstance(tokens, TokenResponse)
        with pytest.raises(InvalidOrExpiredToken):
            await auth.code_exchange.exchange(code, verifier, CLIENT)

    async def test_a_provider_error_is_raised_or_sent_back_to_the_app(self, auth, oauth_fake):
        oauth_fake["google"].deny_next = True
        started = await auth.provider_sign_in.start("google", {}, None, None)
        callback = await consent(started)
        assert callback.error == "access_denied"
        with pytest.raises(OAuthProviderError):
            await auth.provider_sign_in.finish("google", started.flows, callback, CLIENT)

        oauth_fake["google"].deny_next = True
        started = await auth.provider_sign_in.start(
            "google", {}, "https://app.example/", pkce_pair()[1]
        )
        result = await auth.provider_sign_in.finish(
            "google", started.flows, await consent(started), CLIENT
        )
        assert isinstance(result, flow.SentBack)
        assert result.url == "https://app.example/?error=oauth_provider_error"
        assert result.flows == {}

    async def test_a_state_from_no_flow_is_refused(self, auth):
        with pytest.raises(OAuthStateInvalid):
            await auth.provider_sign_in.finish(
                "google", {}, flow.Callback("forged", "code", None), CLIENT
            )
