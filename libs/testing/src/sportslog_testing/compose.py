"""compose.yaml brought up as an operator would (podman-compose, else docker compose), with
deploy/compose.local.yaml where the images were built locally, in a copy of the deploy files
so the test's secrets never touch the clone's deploy/secrets. tests/e2e uses it with
SPORTSLOG_E2E_COMPOSE=1: the journeys then run against the containerised gateway."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sportslog_testing import devstack

ROOT = Path(__file__).resolve().parents[4]
GATEWAY_URL = "http://127.0.0.1:8000"  # compose.yaml publishes the gateway on :8000

# What the e2e suite's process stack sets too: every journey comes from one address.
TEST_ENV = {
    "auth": {
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "LOGIN_MAX_FAILURES_PER_IP": "100000",
    },
    "gateway": {"RATE_LIMIT_AUTH": "100000/minute", "RATE_LIMIT_DEFAULT": "1000000/minute"},
}


def override_file(scale: dict[str, int]) -> str:
    """compose.test.yaml (JSON is YAML): the test settings, and `scale:` per service (not
    --scale: podman-compose keeps only the last one, and `down` then knows every replica)."""
    services: dict[str, dict[str, object]] = {}
    for name, env in TEST_ENV.items():
        services.setdefault(name, {})["environment"] = env
    for name, count in scale.items():
        services.setdefault(name, {})["scale"] = count
    return json.dumps({"services": services}, indent=2)


def compose_command() -> list[str]:
    found = shutil.which("podman-compose")
    if found:
        return [found]
    if shutil.which("docker"):
        return ["docker", "compose"]
    raise RuntimeError("needs podman-compose (uv sync installs it) or docker compose")


def _secrets_env() -> str:
    def hex24() -> str:
        return secrets.token_hex(24)

    def b64() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    values = {
        "POSTGRES_PASSWORD": hex24(),
        "AUTH_DB_PASSWORD": hex24(),
        "ACTIVITIES_DB_PASSWORD": hex24(),
        "NOTIFIER_DB_PASSWORD": hex24(),
        "RABBITMQ_PASSWORD": hex24(),
        "TOKEN_HMAC_SECRET": b64(),
        "CURSOR_SECRET": b64(),
        "INTERNAL_API_KEY": b64(),
        "EVENT_SEAL_KEY": b64(),
        "OAUTH_TOKEN_ENCRYPTION_KEY": b64(),
        "GRAFANA_ADMIN_PASSWORD": b64(),
    }
    return "".join(f"{key}={value}\n" for key, value in values.items())


class ComposeStack:
    def __init__(self, workdir: Path, local_images: bool = True) -> None:
        self.workdir = workdir
        self.project = f"sportslog-test-{secrets.token_hex(4)}"
        self.mail_dir = workdir / "mail"
        files = ["compose.yaml"]
        if local_images:
            files.append("deploy/compose.local.yaml")
        files.append("compose.test.yaml")
        self._files = [arg for name in files for arg in ("-f", name)]

    def url(self, service: str) -> str:
        assert service == "gateway", "only the gateway is published"
        return GATEWAY_URL

    def _compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*compose_command(), "-p", self.project, *self._files]
        command += ["--env-file", "deploy/secrets.env", *args]
        # Interpolated into compose.yaml: what the e2e suite's process stack uses too.
        env = {
            **os.environ,
            "SPORTSLOG_MAIL_DIR": str(self.mail_dir),
            "APP_BASE_URL": "https://app.example",
            "JWT_ISSUER": "https://sportslog.example",
        }
        result = subprocess.run(  # noqa: S603
            command, cwd=self.workdir, env=env, capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self, timeout: float = 240.0, scale: dict[str, int] | None = None) -> None:
        shutil.copy(ROOT / "compose.yaml", self.workdir / "compose.yaml")
        shutil.copytree(ROOT / "deploy", self.workdir / "deploy", dirs_exist_ok=True)
        (self.workdir / "compose.test.yaml").write_text(override_file(scale or {}))
        (self.workdir / "deploy" / "secrets.env").write_text(_secrets_env())
        key = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (self.workdir / "deploy" / "secrets").mkdir(exist_ok=True)
        (self.workdir / "deploy" / "secrets" / "jwt_ed25519.pem").write_bytes(key)
        self.mail_dir.mkdir(exist_ok=True)
        self.mail_dir.chmod(0o777)  # the sink writes as its own user
        self._compose("up", "-d")
        deadline = time.monotonic() + timeout
        while not self._all_healthy():
            if time.monotonic() > deadline:
                logs = self._compose("logs", check=False)
                raise TimeoutError(
                    f"the stack was not up in {timeout:.0f} s\n{logs.stdout[-6000:]}"
                )
            time.sleep(0.5)

    def _engine(self, *args: str) -> subprocess.CompletedProcess[str]:
        engine = devstack.container_engine()
        return subprocess.run([engine, *args], capture_output=True, text=True, check=False)  # noqa: S603

    def _all_healthy(self) -> bool:
        """Every container with a health check passes it, and the gateway is ready. Podman
        without systemd runs no health checks on its own (so compose's service_healthy
        does not wait either): run each one here."""
        listed = self._engine(
            "ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}"
        )
        containers = listed.stdout.split()
        if len(containers) < 8:  # compose.yaml's services, Grafana aside
            return False
        podman = shutil.which("podman") is not None
        for container in containers:
            has_check = self._engine("inspect", "--format", "{{.Config.Healthcheck}}", container)
            if has_check.stdout.strip() in ("", "<nil>", "{[] 0s 0s 0s 0}"):
                continue
            if podman:
                if self._engine("healthcheck", "run", container).returncode != 0:
                    return False
            else:
                status = self._engine("inspect", "--format", "{{.State.Health.Status}}", container)
                if status.stdout.strip() != "healthy":
                    return False
        try:
            return httpx.get(f"{GATEWAY_URL}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def containers(self, service: str) -> list[str]:
        """The names of the service's containers (its replicas)."""
        listed = self._engine(
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
        )
        return sorted(listed.stdout.split())

    def metrics(self, container: str) -> str:
        """A container's own /metrics, read inside it (only the gateway is published)."""
        return self.call(container, "GET", "/metrics")[1]

    def call(
        self, container: str, method: str, path: str, body: str | None = None
    ) -> tuple[int, str]:
        """An HTTP request to the service inside `container` (one replica, not the alias)."""
        script = """
import os, sys, urllib.error, urllib.request
data = sys.stdin.read().encode() or None
request = urllib.request.Request(
    "http://127.0.0.1:" + os.environ["PORT"] + sys.argv[2], data=data, method=sys.argv[1],
    headers={"Content-Type": "application/json"},
)
try:
    answer = urllib.request.urlopen(request, timeout=10)
except urllib.error.HTTPError as error:
    answer = error
print(answer.status)
print(answer.read().decode())
"""
        engine = devstack.container_engine()
        done = subprocess.run(  # noqa: S603
            [engine, "exec", "-i", container, "python", "-c", script, method, path],
            input=body or "",
            capture_output=True,
            text=True,
            check=False,
        )
        status, _, text = done.stdout.partition("\n")
        return int(status or 0), text

    def kill(self, container: str) -> None:
        """SIGKILL one container, as a crash would."""
        self._engine("kill", container)

    def start(self, container: str) -> None:
        """Start a stopped (or killed) container again, with its volumes."""
        self._engine("start", container)

    def down(self) -> None:
        self._compose("down", "-v", check=False)
        # Whatever compose did not know of (a replica it lost track of) goes too.
        label = f"label=com.docker.compose.project={self.project}"
        for kind in ("container", "volume", "network"):
            listed = (
                self._engine(kind, "ls", "-q", "--filter", label)
                if kind != "container"
                else (self._engine("ps", "-aq", "--filter", label))
            )
            for item in listed.stdout.split():
                self._engine(kind, "rm", "-f", item)
