"""Sign-in with a provider through the gateway, the auth service talking to the fake
provider with the real authlib client, and the attacks RFC 9700 names."""

import re

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sportslog_testing import FakeUser, OAuthBrowser, pkce_pair

APP = "https://app.example"  # the stack's APP_BASE_URL
TOKEN_LINK = re.compile(r"https://app\.example/verify-email\?token=([A-Za-z0-9_\-]+)")


@pytest.fixture
def browser(gateway):
    return OAuthBrowser(gateway, APP)


@pytest.fixture
def fake(oauth_fake, stack):
    return oauth_fake


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def signup(gateway, smtp_server, email):
    r = await gateway.post("/auth/register", json={"email": email, "password": "long enough pw"})
    assert r.status_code == 202
    token = TOKEN_LINK.search((await smtp_server.wait_for(email)).text()).group(1)
    r = await gateway.post("/auth/verify-email", json={"token": token})
    assert r.status_code == 200, r.text
    return r.json()


async def test_google_sign_in_then_activities(gateway, browser, fake, new_email):
    fake["google"].next_user = FakeUser(email=new_email(), name="Grace")
    r = await browser.sign_in("google")
    assert r.status_code == 200, r.text
    # The cookie that carried the flow is cleared once the flow is done.
    (cleared,) = [c for c in r.headers.get_list("set-cookie") if "sportslog_oauth" in c]
    assert "max-age=0" in cleared.lower()
    tokens = r.json()
    me = (await gateway.get("/me", headers=bearer(tokens))).json()
    assert me["auth_methods"] == ["google"]
    r = await gateway.post(
        "/activities",
        json={
            "activity_type": "run",
            "started_at": "2026-11-20T07:00:00Z",
            "duration_secs": 1800,
            "distance_meters": 5000,
        },
        headers=bearer(tokens),
    )
    assert r.status_code == 201, r.text


async def test_an_oidc_provider_from_the_environment_with_redirect_to(
    gateway, browser, fake, new_email
):
    fake["keycloak"].next_user = FakeUser(email=new_email())
    verifier, challenge = pkce_pair()  # the app's own PKCE pair, for the exchange
    r = await browser.sign_in("keycloak", redirect_to=f"{APP}/welcome", code_challenge=challenge)
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith(f"{APP}/welcome?code=")
    code = location.split("code=")[1]
    r = await gateway.post("/auth/oauth/exchange", json={"code": code, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    assert (await gateway.get("/me", headers=bearer(r.json()))).json()["auth_methods"] == [
        "keycloak"
    ]


async def test_csrf_a_callback_with_someone_elses_state_is_refused(browser, fake, new_email):
    """The attacker consents with their own account and sends the victim the callback
    URL; the victim's browser has no flow, or a flow of its own."""
    fake["google"].next_user = FakeUser(email=new_email())
    attackers = await browser.consent(await browser.start("google"))
    victims = await browser.start("google")
    requests = fake["google"].token_requests
    for cookie in ("", victims.cookie):
        r = await browser.finish(attackers, cookie=cookie)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "oauth_state_invalid"
    assert fake["google"].token_requests == requests  # refused before the code was spent
    forged = attackers.cookie.split("=", 1)[0] + "=" + attackers.cookie.split("=", 1)[1][::-1]
    r = await browser.finish(attackers, cookie=forged)
    assert r.status_code == 400


async def test_a_replayed_callback_or_code_is_refused(browser, fake, new_email):
    fake["google"].next_user = FakeUser(email=new_email())
    flow = await browser.consent(await browser.start("google"))
    assert (await browser.finish(flow)).status_code == 200
    requests = fake["google"].token_requests

    r = await browser.finish(flow)  # the same URL and cookie again
    assert r.status_code == 400
    assert r.json()["code"] == "oauth_state_invalid"
    assert fake["google"].token_requests == requests  # our own check, not the provider's

    # The stolen code inside a fresh flow of the attacker's: the provider will not take it.
    stolen = re.search(r"code=([^&]+)", flow.callback_url).group(1)
    fresh = await browser.consent(await browser.start("google"))
    fresh.callback_url = re.sub(r"code=[^&]+", f"code={stolen}", fresh.callback_url)
    r = await browser.finish(fresh)
    assert r.status_code == 400
    assert r.json()["code"] == "oauth_provider_error"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"id_token_claims": {"nonce": "not-the-flows-nonce"}}, id="nonce-mismatch"),
        pytest.param({"id_token_claims": {"aud": "another-client"}}, id="another-audience"),
        pytest.param(
            {"id_token_claims": {"aud": "another-client", "azp": "google-client"}},
            id="another-audience-naming-us-as-azp",
        ),
        pytest.param({"id_token_claims": {"iss": "https://evil.example"}}, id="another-issuer"),
        pytest.param({"id_token_claims": {"exp": 1_000_000}}, id="expired"),
        pytest.param({"sign_with": "other-key"}, id="signed-by-another-key"),
    ],
)
async def test_a_bad_id_token_signs_nobody_in(gateway, browser, fake, new_email, tamper):
    google = fake["google"]
    google.next_user = FakeUser(email=new_email())
    google.id_token_claims = tamper.get("id_token_claims", {})
    if "sign_with" in tamper:
        google.sign_with = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = await browser.sign_in("google")
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "oauth_provider_error"


async def test_a_provider_error_is_a_clear_4xx(browser, fake):
    fake["discord"].deny_next = True
    r = await browser.sign_in("discord")
    assert r.status_code == 400
    assert r.json()["code"] == "oauth_provider_error"
    assert "access_denied" in r.json()["error"]


async def test_open_redirect_is_refused(gateway):
    for target in ("https://evil.example/", "https://app.example.evil.example/x", "//evil.example"):
        r = await gateway.get(
            "/auth/login/google", params={"redirect_to": target, "code_challenge": pkce_pair()[1]}
        )
        assert r.status_code == 422, target
        assert "location" not in r.headers


async def test_an_unverified_email_does_not_link(gateway, browser, fake, smtp_server, new_email):
    email = new_email()
    tokens = await signup(gateway, smtp_server, email)
    fake["google"].next_user = FakeUser(email=email, email_verified=False)
    r = await browser.sign_in("google")
    assert r.status_code == 403
    assert r.json()["code"] == "email_not_verified"
    me = (await gateway.get("/me", headers=bearer(tokens))).json()
    assert me["auth_methods"] == ["password"]
