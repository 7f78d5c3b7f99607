"""`make dev` refuses to start, naming what is missing, when its servers are unreachable on
a machine without podman or docker (with one, tests/containers/test_dev_servers.py)."""

import subprocess
import sys
from pathlib import Path

from sportslog_testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_dev_names_unreachable_servers_and_exits_non_zero():
    port = free_port()  # nothing listens there
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/dev.py")],
        env={
            "PATH": "/nonexistent",  # no podman, no docker
            "POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{port}/postgres",
            "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"PostgreSQL is not reachable at postgresql://127.0.0.1:{port}/postgres" in result.stderr
    assert f"RabbitMQ is not reachable at amqp://127.0.0.1:{port}/" in result.stderr
    assert "rabbitmq-server -detached" in result.stderr
    assert "install podman or docker" in result.stderr
    assert "guest" not in result.stderr  # credentials are never echoed
