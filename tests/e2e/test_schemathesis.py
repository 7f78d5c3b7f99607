"""schemathesis against the gateway's merged /openapi.json (issue 9): every operation, without
a token and with a live one, answers without a 5xx and as the document says (a documented
status code, its content type, a body that matches its schema).

The cases are generated from the document the gateway serves, positive and negative, a fixed
number per operation from a fixed seed, so a run is the same run everywhere. They are sent
from a worker thread: the Twilio and OAuth provider fakes live on the test session's event
loop, which must keep running while auth talks to them (GET /auth/login/{provider} fetches
the provider's discovery document)."""

import asyncio
import os
import re
from datetime import timedelta

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode

from sportslog_testing.processes import ServiceProcesses

# Cases per operation and generation mode, from a fixed seed: every run sends the same cases.
# SCHEMATHESIS_MAX_EXAMPLES and SCHEMATHESIS_SEED (other cases) dig deeper by hand.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "0"))
PASSWORD = "a long enough secret"
TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")
# Operations that end the session or the account they are called with. The authenticated
# run's shared user would lose its token half-way (every later case a 401), so each of these
# gets a fresh user of its own instead.
SESSION_ENDING = ("POST /auth/logout", "PUT /me/password", "DELETE /me")


@pytest.fixture(scope="module")
async def fuzz_gateway(stack, tmp_path_factory):
    """A gateway of its own whose rate limits no run reaches: every case comes from
    127.0.0.1, and RATE_LIMIT_DEFAULT (per client, per gateway process) would otherwise turn
    the run into 429s and spend the budget the other e2e tests share. The limits themselves
    are tested in services/gateway."""
    processes = ServiceProcesses(tmp_path_factory.mktemp("schemathesis-gateway"))
    limits = {"RATE_LIMIT_DEFAULT": "1000000/minute", "RATE_LIMIT_AUTH": "1000000/minute"}
    try:
        config = await processes.start_beside(stack, "gateway", extra_env=limits)
        yield config.url("gateway")
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
async def api_schema(fuzz_gateway):
    config = schemathesis.Config.from_dict(
        {
            "request-timeout": 10,
            # The checks of the issue, and only those: no 5xx, and the response as documented.
            "checks": {
                "enabled": False,
                "not_a_server_error": {"enabled": True},
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
                "response_headers_conformance": {"enabled": True},
            },
        }
    )
    return await asyncio.to_thread(
        schemathesis.openapi.from_url, f"{fuzz_gateway}/openapi.json", config=config
    )


@pytest.fixture
def new_user(fuzz_gateway, smtp_server, new_email):
    async def create() -> dict[str, str]:
        email = new_email()
        async with httpx.AsyncClient(base_url=fuzz_gateway, timeout=15) as client:
            r = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
            assert r.status_code == 202, r.text
            mail = await smtp_server.wait_for(email)
            token = TOKEN.search(mail.text()).group(1)
            r = await client.post("/auth/verify-email", json={"token": token})
            assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return create


def operations(schema, labels=None, excluding=()):
    found = [result.ok() for result in schema.get_all_operations()]
    chosen = [
        op for op in found if (labels is None or op.label in labels) and op.label not in excluding
    ]
    assert chosen, "no operation matched"
    return chosen


def run(chosen, headers=None) -> list[str]:
    """Every operation, positive then negative cases; the failures of all, not the first."""
    failures = []
    for operation in chosen:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, headers=headers)

            # A case takes ~10 ms here: one past the deadline is a hang or a pathological
            # input, not a busy machine. No shrinking: each step is a request, and a failure
            # already carries its case and a curl line to replay it. The requests themselves
            # are the slow part, so hypothesis' too_slow health check does not apply.
            @hypothesis.seed(SEED)
            @hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                database=None,
                deadline=timedelta(seconds=5),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                suppress_health_check=[hypothesis.HealthCheck.too_slow],
            )
            @hypothesis.given(case=strategy)
            def check(case):
                case.call_and_validate(allow_redirects=False)

            try:
                check()
            except hypothesis.errors.Unsatisfiable:
                # Nothing of the operation can be made invalid (no parameters, no body, and the
                # token is fixed): there is no negative case to send.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is a Base
                failures.append(f"--- {operation.label} ({mode.value})\n{exc}")
    return failures


async def test_without_a_token(api_schema):
    failures = await asyncio.to_thread(run, operations(api_schema))
    assert not failures, "\n".join(failures)


async def test_with_a_token(api_schema, new_user, fuzz_gateway):
    headers = await new_user()
    failures = await asyncio.to_thread(
        run, operations(api_schema, excluding=SESSION_ENDING), headers
    )
    assert not failures, "\n".join(failures)
    # Still signed in: the run checked what a signed-in user gets, not a row of 401s.
    async with httpx.AsyncClient(base_url=fuzz_gateway, headers=headers, timeout=15) as client:
        assert (await client.get("/me")).status_code == 200


@pytest.mark.parametrize("label", SESSION_ENDING)
async def test_session_ending_operation_with_its_own_user(api_schema, new_user, label):
    headers = await new_user()
    failures = await asyncio.to_thread(run, operations(api_schema, labels=[label]), headers)
    assert not failures, "\n".join(failures)


async def test_sign_in_with_each_provider_answers_as_documented(api_schema, oauth_provider_server):
    """Generated names almost never hit a configured provider: each one, and one that is not
    configured, by hand. auth reads the provider's discovery document on the way."""
    begin = api_schema["/auth/login/{provider}"]["GET"]
    callback = api_schema["/auth/callback/{provider}"]["GET"]
    expected = {name: (302, 400) for name in oauth_provider_server.providers}
    expected["nosuchprovider"] = (404, 404)
    for provider, (begun, called_back) in expected.items():
        case = begin.Case(path_parameters={"provider": provider})
        response = await asyncio.to_thread(case.call_and_validate, allow_redirects=False)
        assert response.status_code == begun, (provider, response.text)
        # Back from the provider without the flow cookie and state: refused, as documented.
        case = callback.Case(path_parameters={"provider": provider}, query={"code": "x"})
        response = await asyncio.to_thread(case.call_and_validate, allow_redirects=False)
        assert response.status_code == called_back, (provider, response.text)
