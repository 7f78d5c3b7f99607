"""Sign-in with a provider, in-process, against the fake OAuth/OIDC provider over real HTTP.

The attacks (CSRF, nonce, audience, keys, replay, open redirect) are driven through the
gateway in tests/e2e/test_oauth_journey.py; here: accounts, linking, tokens at rest,
exchange codes, unlinking, configuration."""

import base64
import os
import ssl

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr, ValidationError
from starlette.responses import Response

from sportslog_auth.oauth.providers import configured_providers
from sportslog_auth.settings import AuthSettings, OidcProvider
from sportslog_common.sealing import Sealer, SealError
from sportslog_testing import FakeUser, OAuthBrowser, free_port, pkce_pair

TOKEN_KEY = base64.b64encode(os.urandom(32)).decode()
APP = "http://auth"  # APP_BASE_URL: the test client's own base, so callbacks come back here


@pytest.fixture
def settings(settings, oauth_fake):
    env = oauth_fake.env()
    return settings.model_copy(
        update={
            "app_base_url": APP,
            "oauth_token_encryption_key": SecretStr(TOKEN_KEY),
            "oauth_redirect_origins": "https://app.example",
            "google_client_id": env["GOOGLE_CLIENT_ID"],
            "google_client_secret": SecretStr(env["GOOGLE_CLIENT_SECRET"]),
            "google_server_metadata_url": env["GOOGLE_SERVER_METADATA_URL"],
            "facebook_client_id": env["FACEBOOK_CLIENT_ID"],
            "facebook_client_secret": SecretStr(env["FACEBOOK_CLIENT_SECRET"]),
            "facebook_authorize_url": env["FACEBOOK_AUTHORIZE_URL"],
            "facebook_token_url": env["FACEBOOK_TOKEN_URL"],
            "facebook_userinfo_url": env["FACEBOOK_USERINFO_URL"],
            "discord_client_id": env["DISCORD_CLIENT_ID"],
            "discord_client_secret": SecretStr(env["DISCORD_CLIENT_SECRET"]),
            "discord_authorize_url": env["DISCORD_AUTHORIZE_URL"],
            "discord_token_url": env["DISCORD_TOKEN_URL"],
            "discord_userinfo_url": env["DISCORD_USERINFO_URL"],
            "oidc_providers": {
                "keycloak": OidcProvider(
                    issuer=env["OIDC_KEYCLOAK_ISSUER"],
                    client_id=env["OIDC_KEYCLOAK_CLIENT_ID"],
                    client_secret=SecretStr(env["OIDC_KEYCLOAK_CLIENT_SECRET"]),
                ),
                # Nothing listens here: a provider that is down.
                "offline": OidcProvider(
                    issuer=f"http://127.0.0.1:{free_port()}",
                    client_id="offline",
                    client_secret=SecretStr("offline"),
                ),
            },
        }
    )


@pytest.fixture
def browser(client):
    return OAuthBrowser(client, APP)


async def me(client, tokens):
    r = await client.get("/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 200, r.text
    return r.json()


def logins(method: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "sportslog_logins_total", {"method": method, "status": status}
    )
    return value or 0.0


@pytest.mark.parametrize("provider", ["google", "keycloak", "facebook", "discord"])
async def test_a_new_identity_opens_an_account_and_signs_it_in_again(
    provider, client, browser, oauth_fake, new_email
):
    email = new_email()
    oauth_fake[provider].next_user = person = FakeUser(email=email.upper(), name="Ada Lovelace")
    before = logins(provider, "success")

    r = await browser.sign_in(provider)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert r.headers["cache-control"] == "no-store"
    first = await me(client, r.json())
    assert first["email"] == email  # lowercased like every other email
    assert first["email_verified"] is True
    assert first["auth_methods"] == [provider]
    assert first["profile"]["display_name"] == "Ada Lovelace"
    assert logins(provider, "success") == before + 1

    oauth_fake[provider].next_user = person  # the same person, another day
    again = await browser.sign_in(provider)
    assert again.status_code == 200, again.text
    assert (await me(client, again.json()))["id"] == first["id"]


async def test_provider_tokens_are_stored_sealed_with_the_encryption_key(
    app, browser, oauth_fake, new_email
):
    oauth_fake["google"].next_user = person = FakeUser(email=new_email())
    assert (await browser.sign_in("google")).status_code == 200
    issued = [t for t, u in oauth_fake["google"].tokens.items() if u is person]
    async with app.state.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT access_token, refresh_token FROM oauth_connections WHERE provider_uid = $1",
            person.sub,
        )
    assert row["access_token"] not in issued
    assert issued[0] not in row["access_token"]
    sealer = Sealer(TOKEN_KEY, context=b"sportslog.oauth-token.v1")
    assert sealer.open(row["access_token"]) == issued[0]
    assert sealer.open(row["refresh_token"])
    with pytest.raises(SealError):  # bound to its purpose: the event key cannot open it
        Sealer(TOKEN_KEY).open(row["access_token"])


async def test_a_verified_email_links_to_the_existing_account(
    client, browser, oauth_fake, signup, new_email
):
    email = new_email()
    local = await signup(email)
    oauth_fake["google"].next_user = FakeUser(email=email)

    r = await browser.sign_in("google")
    assert r.status_code == 200, r.text
    linked = await me(client, r.json())
    assert linked["id"] == (await me(client, local))["id"]
    assert linked["auth_methods"] == ["password", "google"]
    # The password still works: linking added a way in and took none away.
    r = await client.post("/auth/login", json={"email": email, "password": "correct horse"})
    assert r.status_code == 200


async def test_a_password_set_before_the_owner_verified_the_address_does_not_survive_a_link(
    client, browser, oauth_fake, new_email
):
    """Pre-account-takeover: someone registers the victim's address with their own
    password; when the owner arrives through a provider that proves the inbox, the squatter's
    password must not open the owner's account."""
    email = new_email()
    r = await client.post("/auth/register", json={"email": email, "password": "squatter pw"})
    assert r.status_code == 202
    oauth_fake["google"].next_user = FakeUser(email=email)

    r = await browser.sign_in("google")
    assert r.status_code == 200, r.text
    assert (await me(client, r.json()))["auth_methods"] == ["google"]
    r = await client.post("/auth/login", json={"email": email, "password": "squatter pw"})
    assert r.status_code == 401


@pytest.mark.parametrize("provider", ["google", "discord"])
async def test_an_unverified_email_neither_links_nor_opens_an_account(
    provider, app, client, browser, oauth_fake, signup, new_email
):
    taken, free = new_email(), new_email()
    await signup(taken)
    for email in (taken, free):
        oauth_fake[provider].next_user = FakeUser(email=email, email_verified=False)
        r = await browser.sign_in(provider)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "email_not_verified"
    async with app.state.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE email = $1", free) == 0
        links = await conn.fetchval(
            "SELECT count(*) FROM oauth_connections o JOIN users u ON u.id = o.user_id"
            " WHERE u.email = $1",
            taken,
        )
    assert links == 0


async def test_an_identity_without_an_email_is_refused(client, browser, oauth_fake):
    oauth_fake["facebook"].next_user = FakeUser(email=None)
    r = await browser.sign_in("facebook")
    assert r.status_code == 403
    assert r.json()["code"] == "email_not_verified"


async def test_redirect_to_returns_a_one_time_code_never_a_token(
    app, client, browser, oauth_fake, new_email
):
    verifier, challenge = pkce_pair()
    oauth_fake["google"].next_user = FakeUser(email=new_email())
    r = await browser.sign_in(
        "google", redirect_to="https://app.example/signed-in?tab=runs", code_challenge=challenge
    )
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("https://app.example/signed-in?tab=runs&code=")
    assert "access_token" not in location
    assert "eyJ" not in location
    code = location.rsplit("code=", 1)[1]

    exchange = {"code": code, "code_verifier": verifier}
    r = await client.post("/auth/oauth/exchange", json=exchange)
    assert r.status_code == 200, r.text
    assert (await me(client, r.json()))["auth_methods"] == ["google"]
    again = await client.post("/auth/oauth/exchange", json=exchange)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_or_expired_token"

    # A code lives 60 seconds.
    oauth_fake["google"].next_user = FakeUser(email=new_email())
    r = await browser.sign_in(
        "google", redirect_to="https://app.example/", code_challenge=challenge
    )
    code = r.headers["location"].rsplit("code=", 1)[1]
    async with app.state.pool.acquire() as conn:
        await conn.execute("UPDATE oauth_exchange_codes SET expires_at = now() - interval '1 s'")
    r = await client.post("/auth/oauth/exchange", json={"code": code, "code_verifier": verifier})
    assert r.status_code == 400


async def test_a_code_is_useless_without_the_apps_verifier(client, browser, oauth_fake, new_email):
    """Login CSRF: an attacker signs in with their own account and slips the code into a
    victim's app; the victim's app holds another verifier, so the code opens nothing."""
    attacker_verifier, attacker_challenge = pkce_pair()
    victim_verifier, _ = pkce_pair()
    oauth_fake["google"].next_user = FakeUser(email=new_email())
    r = await browser.sign_in(
        "google", redirect_to="https://app.example/", code_challenge=attacker_challenge
    )
    code = r.headers["location"].rsplit("code=", 1)[1]
    r = await client.post(
        "/auth/oauth/exchange", json={"code": code, "code_verifier": victim_verifier}
    )
    assert r.status_code == 400
    # A wrong verifier burns the code: no second guess.
    r = await client.post(
        "/auth/oauth/exchange", json={"code": code, "code_verifier": attacker_verifier}
    )
    assert r.status_code == 400
    # And a redirect flow cannot start without a challenge.
    r = await client.get("/auth/login/google", params={"redirect_to": "https://app.example/"})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "query.code_challenge"


async def test_a_failed_flow_with_redirect_to_goes_back_with_an_error_code(
    browser, oauth_fake, new_email
):
    oauth_fake["discord"].next_user = FakeUser(email=new_email(), email_verified=False)
    r = await browser.sign_in(
        "discord", redirect_to="http://auth/done", code_challenge=pkce_pair()[1]
    )
    assert r.status_code == 302
    assert r.headers["location"] == "http://auth/done?error=email_not_verified"


async def test_exchange_refuses_bad_input(client):
    verifier = pkce_pair()[0]
    for body in (
        {},
        {"code": "", "code_verifier": verifier},
        {"code": "x" * 300, "code_verifier": verifier},
        {"code": 5, "code_verifier": verifier},
        {"code": "abc"},
        {"code": "abc", "code_verifier": "short"},
        {"code": "abc", "code_verifier": "ü" * 50},
    ):
        r = await client.post("/auth/oauth/exchange", json=body)
        assert r.status_code == 422, body
    r = await client.post(
        "/auth/oauth/exchange", json={"code": "never-issued", "code_verifier": verifier}
    )
    assert r.status_code == 400


async def test_unlink_keeps_at_least_one_way_to_sign_in(
    client, browser, oauth_fake, signup, new_email
):
    email = new_email()
    await signup(email)
    person = FakeUser(email=email)
    for provider in ("google", "discord"):
        oauth_fake[provider].next_user = person
        tokens = (await browser.sign_in(provider)).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await me(client, tokens))["auth_methods"] == ["password", "discord", "google"]

    assert (await client.delete("/me/connections/google", headers=auth)).status_code == 204
    assert (await me(client, tokens))["auth_methods"] == ["password", "discord"]
    r = await client.delete("/me/connections/google", headers=auth)
    assert r.status_code == 404

    # A provider-only account cannot drop its last provider.
    oauth_fake["facebook"].next_user = FakeUser(email=new_email())
    only = (await browser.sign_in("facebook")).json()
    only_auth = {"Authorization": f"Bearer {only['access_token']}"}
    r = await client.delete("/me/connections/facebook", headers=only_auth)
    assert r.status_code == 409
    assert r.json()["code"] == "last_sign_in_method"
    assert (await me(client, only))["auth_methods"] == ["facebook"]
    assert (await client.delete("/me/connections/facebook")).status_code == 401


async def test_unknown_providers_and_foreign_redirects_are_refused(client):
    r = await client.get("/auth/login/myspace")
    assert r.status_code == 404
    r = await client.get("/auth/callback/myspace?code=x&state=y")
    assert r.status_code == 404
    for target in (
        "https://evil.example/",
        "https://app.example.evil.example/",
        "https://app.example@evil.example/",
        "//evil.example/",
        "javascript:alert(1)",
        "https://app.example\\@evil.example/",
        "https://[",
        "https://app.example%EF%BC%8Fx",
        "https://app.example\uff0f.evil.example/",
    ):
        r = await client.get(
            "/auth/login/google",
            params={"redirect_to": target, "code_challenge": pkce_pair()[1]},
        )
        assert r.status_code == 422, target
        assert r.json()["details"][0]["field"] == "query.redirect_to"
        assert "set-cookie" not in r.headers


async def test_the_flow_cookie_is_httponly_lax_and_short_lived(client):
    r = await client.get("/auth/login/google")
    assert r.status_code == 302
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=600" in cookie
    location = r.headers["location"]
    assert "code_challenge_method=S256" in location
    assert "nonce=" in location


async def test_an_unreachable_provider_is_a_502(client):
    r = await client.get("/auth/login/offline")
    assert r.status_code == 502
    assert r.json()["code"] == "oauth_provider_unavailable"


def test_settings_refuse_an_incomplete_provider(settings):
    base = settings.model_dump()
    base.pop("oidc_providers")
    with pytest.raises(ValidationError, match="OAUTH_TOKEN_ENCRYPTION_KEY"):
        AuthSettings(**{**base, "oauth_token_encryption_key": None})
    with pytest.raises(ValidationError, match="GOOGLE_CLIENT_SECRET"):
        AuthSettings(**{**base, "google_client_secret": ""})


def test_oidc_providers_come_from_the_environment(settings, monkeypatch):
    base = settings.model_dump()
    base.pop("oidc_providers")
    monkeypatch.setenv("OIDC_AUTHENTIK_ISSUER", "https://sso.example/application/o/sl/")
    monkeypatch.setenv("OIDC_AUTHENTIK_CLIENT_ID", "sl")
    monkeypatch.setenv("OIDC_AUTHENTIK_CLIENT_SECRET", "s3cret")
    loaded = AuthSettings(**base)
    assert set(loaded.oidc_providers) == {"authentik"}
    assert loaded.oidc_providers["authentik"].client_id == "sl"
    monkeypatch.delenv("OIDC_AUTHENTIK_CLIENT_SECRET")
    with pytest.raises(ValidationError, match="OIDC_AUTHENTIK_CLIENT_SECRET"):
        AuthSettings(**base)
    monkeypatch.setenv("OIDC_AUTHENTIK_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("OIDC_AUTHENTIK_ISSUER", "http://sso.example/")  # keys over plain HTTP
    with pytest.raises(ValidationError, match="https"):
        AuthSettings(**base)
    monkeypatch.setenv("OIDC_AUTHENTIK_ISSUER", "https://sso.example/")
    monkeypatch.setenv("OIDC_MY_SSO_ISSUER", "https://sso.example/")
    monkeypatch.setenv("OIDC_MY_SSO_CLIENT_ID", "x")
    monkeypatch.setenv("OIDC_MY_SSO_CLIENT_SECRET", "x")
    with pytest.raises(ValidationError, match="letters and digits"):
        AuthSettings(**base)
    for variable in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"OIDC_MY_SSO_{variable}")
    for variable in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET"):
        monkeypatch.delenv(f"OIDC_AUTHENTIK_{variable}")
    monkeypatch.setenv("OIDC_GOOGLE_ISSUER", "https://x.example")
    monkeypatch.setenv("OIDC_GOOGLE_CLIENT_ID", "x")
    monkeypatch.setenv("OIDC_GOOGLE_CLIENT_SECRET", "x")
    with pytest.raises(ValidationError, match="not one of google"):
        AuthSettings(**base)


async def test_a_flow_older_than_ten_minutes_is_refused(client, browser, oauth_fake, new_email):
    """Each flow keeps its own 10 minutes, even when a newer flow re-signs the cookie."""
    from sportslog_auth.oauth.flow_cookie import COOKIE, FlowCookie

    oauth_fake["google"].next_user = FakeUser(email=new_email())
    flow = await browser.consent(await browser.start("google"))
    cookies = FlowCookie(b"h" * 32, secure=False)  # the test settings' TOKEN_HMAC_SECRET

    class Held:  # the browser's cookie jar, as FlowCookie reads and writes it
        cookies = {COOKIE: flow.cookie.split("=", 1)[1]}

    flows = cookies.load(Held)  # type: ignore[arg-type]
    assert len(flows) == 1
    for entry in flows.values():
        entry["exp"] -= 601  # as if begun eleven minutes ago
    response = Response()
    cookies.store(response, flows)
    aged = response.headers["set-cookie"].split(";", 1)[0]

    r = await browser.finish(flow, cookie=aged)
    assert r.status_code == 400
    assert r.json()["code"] == "oauth_state_invalid"


def test_provider_clients_share_one_tls_context(settings):
    """authlib builds an HTTP client per call; a TLS context of its own each time would
    cost ~60 ms of event loop per provider request (measured: login start 152 → 8 ms)."""
    providers = configured_providers(settings)  # what create_app gives the sign-in flow
    assert len(providers) > 1
    contexts = {id(p.client.client_kwargs["verify"]) for p in providers.values()}
    assert len(contexts) == 1
    assert isinstance(next(iter(providers.values())).client.client_kwargs["verify"], ssl.SSLContext)
