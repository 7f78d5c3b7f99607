"""compose.yaml scaled as an operator scales it (issue 18 point 5): auth, activities and the
notifier at two replicas each. The gateway spreads requests over the replicas, each event
is published once with two outbox relays and mailed once with two notifiers, and a reset
handled by either auth replica revokes the old token at the gateway."""

import asyncio
import json
import re

import httpx
import pytest

from sportslog_testing import wait_until
from sportslog_testing.compose import GATEWAY_URL, ComposeStack
from sportslog_testing.maildir import MaildirMail

SCALE = {"auth": 2, "activities": 2, "notifier": 2}
USERS = 6
TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    stack = ComposeStack(tmp_path_factory.mktemp("scaled"))
    try:
        stack.up(scale=SCALE)
        yield stack
    finally:
        stack.down()


def samples(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def signed_up(client: httpx.AsyncClient, mail: MaildirMail, email: str) -> dict:
    r = await client.post("/auth/register", json={"email": email, "password": "a long secret"})
    assert r.status_code == 202, r.text
    link = await mail.wait_for(email, timeout=60)
    r = await client.post("/auth/verify-email", json={"token": TOKEN.search(link.text()).group(1)})
    assert r.status_code == 200, r.text
    return r.json()


async def test_replicas_share_the_work_and_each_event_goes_once(scaled):
    for service, count in SCALE.items():
        assert len(scaled.containers(service)) == count, service
    mail = MaildirMail(scaled.mail_dir)
    emails = [f"scale-{i}-{id(scaled)}@example.com" for i in range(USERS)]
    async with httpx.AsyncClient(base_url=GATEWAY_URL, timeout=30) as client:
        users = await asyncio.gather(*(signed_up(client, mail, e) for e in emails))
        headers = [{"Authorization": f"Bearer {u['access_token']}"} for u in users]
        # Concurrent requests open several upstream connections, spread over the replicas.
        reads = [client.get(path, headers=h) for h in headers for path in ("/activities", "/me")]
        answers = await asyncio.gather(*(reads * 5))
        assert {r.status_code for r in answers} == {200}

    for container in scaled.containers("activities"):
        served = samples(scaled.metrics(container), "http_requests_total", route="/activities")
        assert served > 0, f"{container} served no /activities"
    for container in scaled.containers("auth"):
        served = samples(scaled.metrics(container), "http_requests_total", service="auth")
        assert served > 0, f"{container} served nothing"

    # Two outbox relays: each registration's event published once in all.
    published = sum(
        samples(scaled.metrics(c), "sportslog_events_published_total", type="user.registered")
        for c in scaled.containers("auth")
    )
    assert published == USERS

    # Two notifiers on one queue: once both have consumed every registration, each address
    # has exactly one verification mail, whichever notifier sent it.
    def consumed() -> float:
        return sum(
            samples(scaled.metrics(c), "sportslog_events_consumed_total", type="user.registered")
            for c in scaled.containers("notifier")
        )

    await wait_until(lambda: consumed() >= USERS, timeout=30, message="every event consumed")
    assert sorted(len(mail.to(e)) for e in emails) == [1] * USERS


async def test_a_reset_on_either_auth_replica_revokes_at_the_gateway(scaled):
    """Each auth replica handles one reset (called inside its container); the gateway
    refuses both old tokens, whichever replica published the revocation."""
    mail = MaildirMail(scaled.mail_dir)
    replicas = scaled.containers("auth")
    emails = [f"reset-{i}-{id(scaled)}@example.com" for i in range(len(replicas))]
    async with httpx.AsyncClient(base_url=GATEWAY_URL, timeout=30) as client:
        users = await asyncio.gather(*(signed_up(client, mail, e) for e in emails))
        for replica, email, tokens in zip(replicas, emails, users, strict=True):
            old = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert (await client.get("/me", headers=old)).status_code == 200
            r = await client.post("/auth/forgot-password", json={"email": email})
            assert r.status_code == 200, r.text
            link = await mail.wait_for(email, count=2, timeout=60)
            body = json.dumps(
                {"token": TOKEN.search(link.text()).group(1), "new_password": "another secret"}
            )
            status, text = scaled.call(replica, "POST", "/auth/reset-password", body)
            assert status == 200, text

            async def refused(old=old) -> bool:
                return (await client.get("/me", headers=old)).status_code == 401

            await wait_until(refused, timeout=2, message=f"the token reset on {replica} refused")
