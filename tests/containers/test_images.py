"""The service images `make images` built (issue 18, points 1-3): run by `make
test-containers`, after `make images`, never by `make test` (no engine needed there)."""

import json
import subprocess

import pytest

from sportslog_testing import devstack

IMAGES = "localhost/sportslog-{service}:latest"
MAX_MB = 250


def engine() -> str:
    return devstack.container_engine()


def inspect(service: str) -> dict:
    out = subprocess.run(
        [engine(), "image", "inspect", IMAGES.format(service=service)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)[0]


def run_shell(service: str, script: str) -> subprocess.CompletedProcess[str]:
    image = IMAGES.format(service=service)
    return subprocess.run(
        [engine(), "run", "--rm", "--pull=never", "--entrypoint", "sh", image, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("service", devstack.SERVICES)
def test_image_is_small_non_root_and_labelled(service):
    image = inspect(service)
    assert image["Size"] <= MAX_MB * 1_000_000, f"{image['Size'] / 1e6:.0f} MB"
    config = image["Config"]
    assert config["User"] == "10001:10001"
    # Kept only in Docker's format (make images asks podman for it); podman shows it at the
    # top level, docker in Config.
    healthcheck = image.get("Healthcheck") or config["Healthcheck"]
    assert "/health" in " ".join(healthcheck["Test"])
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == f"sportslog-{service}"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert labels["org.opencontainers.image.revision"] == head.strip()
    assert labels["org.opencontainers.image.version"]


@pytest.mark.parametrize("service", devstack.SERVICES)
def test_runtime_has_no_build_tools_and_cannot_change_its_code(service):
    found = run_shell(service, "id -u; for t in uv uvx pip gcc cc apt-get; do command -v $t; done")
    lines = found.stdout.split()
    assert lines[0] == "10001"
    # apt-get is the base system's; compilers, uv and pip never reach the runtime stage.
    assert [line for line in lines[1:] if not line.endswith("/apt-get")] == []
    code = f"/app/.venv/lib/python3.11/site-packages/sportslog_{service}/__init__.py"
    assert run_shell(service, f"echo x >> {code}").returncode != 0


@pytest.mark.parametrize("service", devstack.SERVICES)
def test_the_service_and_only_it_is_installed(service):
    others = [s for s in devstack.SERVICES if s != service]
    script = (
        "python -c 'import importlib.util as u, sys;"
        f' sys.exit(0 if u.find_spec("sportslog_{service}") else 1)\''
        + "".join(
            f" && python -c 'import importlib.util as u, sys;"
            f' sys.exit(1 if u.find_spec("{module}") else 0)\''
            for module in [*(f"sportslog_{s}" for s in others), "sportslog_testing", "pytest"]
        )
    )
    assert run_shell(service, script).returncode == 0
