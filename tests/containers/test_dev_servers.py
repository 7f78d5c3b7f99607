"""`make dev` on a machine with podman or docker but no PostgreSQL or RabbitMQ where it looks
(issue 18 point 9): it starts both as containers (data in named volumes), says so and how to
stop them, and the system works on them; they outlive make dev."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from sportslog_testing import devstack, free_port

ROOT = Path(__file__).resolve().parents[2]


def engine(*args: str) -> subprocess.CompletedProcess[str]:
    command = [devstack.container_engine(), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def wait_for(check, what: str, timeout: float = 180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


@pytest.fixture
def unreachable_ports():
    ports = {"postgres": free_port(), "rabbitmq": free_port()}
    yield ports
    for kind, port in ports.items():
        engine("rm", "-f", f"sportslog-dev-{kind}-{port}")
        engine("volume", "rm", "-f", f"sportslog-dev-{kind}-{port}")


def test_make_dev_starts_missing_servers_as_containers(unreachable_ports, tmp_path):
    pg, amqp = unreachable_ports["postgres"], unreachable_ports["rabbitmq"]
    out = tmp_path / "dev.out"
    env = {
        **os.environ,
        "POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{pg}/postgres",
        "AMQP_URL": f"amqp://sportslog:dev-secret@127.0.0.1:{amqp}/",
    }
    with out.open("w") as sink:
        dev = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/dev.py")],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "sports-log is up" in out.read_text() or dev.poll() is not None, "start")
        text = out.read_text()
        assert dev.poll() is None, text
        tool = Path(devstack.container_engine()).name
        for kind, port in unreachable_ports.items():
            name = f"sportslog-dev-{kind}-{port}"
            assert f"{kind}: started as the container {name}" in text
            assert f"data in the volume {name}" in text
            assert f"stop it with: {tool} stop {name}" in text
        assert "dev-secret" not in text  # the URL's password is never echoed

        # The whole system on them: a registration is stored and its mail sent.
        email = f"dev-{uuid.uuid4().hex[:10]}@example.com"
        r = httpx.post(
            "http://127.0.0.1:8000/auth/register",
            json={"email": email, "password": "a long enough secret"},
            timeout=10,
        )
        assert r.status_code == 202, r.text
        wait_for(lambda: re.search(rf"\[mail\] {re.escape(email)}", out.read_text()), "mail", 60)
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=60)

    for kind, port in unreachable_ports.items():
        name = f"sportslog-dev-{kind}-{port}"
        running = engine("container", "inspect", "--format", "{{.State.Running}}", name)
        assert running.stdout.strip() == "true", f"{name} stopped with make dev"
        assert engine("volume", "inspect", name).returncode == 0
