from prometheus_client import REGISTRY


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_registrations_and_logins_are_counted(client, signup, new_email):
    registered = value("sportslog_users_registered_total")
    ok = value("sportslog_logins_total", method="local", status="success")
    failed = value("sportslog_logins_total", method="local", status="failure")
    refreshed = value("sportslog_logins_total", method="refresh", status="success")
    email = new_email()
    tokens = await signup(email, "right password")
    await client.post("/auth/login", json={"email": email, "password": "right password"})
    await client.post("/auth/login", json={"email": email, "password": "wrong password"})
    await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert value("sportslog_users_registered_total") == registered + 1
    assert value("sportslog_logins_total", method="local", status="success") == ok + 1
    assert value("sportslog_logins_total", method="local", status="failure") == failed + 1
    assert value("sportslog_logins_total", method="refresh", status="success") == refreshed + 1
    text = (await client.get("/metrics")).text
    assert 'sportslog_logins_total{method="local",status="success"}' in text
