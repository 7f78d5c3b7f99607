"""deploy/setup.sh, run for real against temporary directories, with stand-ins for the two
commands this machine cannot run: `podman` (secrets kept as files, builds recorded) and
`systemctl` (calls recorded). Issue 8, item 3."""

import base64
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "deploy" / "setup.sh"
QUADLETS = ROOT / "deploy" / "quadlets"
APPS = ("auth", "activities", "notifier", "gateway")

FAKE_PODMAN = r"""#!/bin/bash
echo "podman $*" >>"$FAKE_DIR/calls"
case "$1" in
  version) echo "${FAKE_PODMAN_VERSION:-5.4.0}" ;;
  secret)
    case "$2" in
      exists) [ -e "$FAKE_DIR/secrets/$3" ] ;;
      create)
        [ "$4" = - ] || { echo "fake podman: expected stdin" >&2; exit 2; }
        [ ! -e "$FAKE_DIR/secrets/$3" ] || { echo "secret $3 exists" >&2; exit 125; }
        cat >"$FAKE_DIR/secrets/$3" ;;
      *) exit 2 ;;
    esac ;;
  build) ;;
  *) echo "fake podman: unexpected $*" >&2; exit 2 ;;
esac
"""
FAKE_SYSTEMCTL = r"""#!/bin/bash
echo "systemctl $*" >>"$FAKE_DIR/calls"
"""


class Host:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.etc = base / "etc-sports-log"
        self.units = base / "containers-systemd"
        self.secrets = base / "fake" / "secrets"
        self.secrets.mkdir(parents=True)
        bin_dir = base / "fake" / "bin"
        bin_dir.mkdir()
        for name, text in (("podman", FAKE_PODMAN), ("systemctl", FAKE_SYSTEMCTL)):
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_DIR": str(base / "fake"),
            "SPORTSLOG_ETC_DIR": str(self.etc),
            "SPORTSLOG_UNIT_DIR": str(self.units),
        }

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        (self.base / "fake" / "calls").unlink(missing_ok=True)
        return subprocess.run(
            ["bash", str(SETUP), *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        path = self.base / "fake" / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text()

    def on_host(self, path: str) -> Path:
        """A path a unit names on the host, inside this test's directories."""
        assert path.startswith("/etc/sports-log/"), path
        return self.etc / path.removeprefix("/etc/sports-log/")


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def unit_values(path: Path, key: str) -> list[str]:
    return [
        line.partition("=")[2]
        for line in path.read_text().splitlines()
        if line.partition("=")[0].strip() == key
    ]


def test_first_install(host):
    result = host.run()
    assert result.returncode == 0, result.stderr

    # Every unit, unchanged.
    for unit in QUADLETS.iterdir():
        if unit.is_file():
            assert (host.units / unit.name).read_text() == unit.read_text()

    # Settings files from the examples, readable by root only.
    for app in APPS:
        env_file = host.etc / f"{app}.env"
        assert env_file.read_text() == (QUADLETS / "env" / f"{app}.env.example").read_text()
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600

    # Everything a unit mounts or reads from /etc/sports-log is there.
    for unit in host.units.glob("*.container"):
        for env_file in unit_values(unit, "EnvironmentFile"):
            assert host.on_host(env_file).is_file(), f"{unit.name}: {env_file}"
        for volume in unit_values(unit, "Volume"):
            source = volume.split(":", 1)[0]
            if source.startswith("/"):
                assert host.on_host(source).exists(), f"{unit.name}: {source}"
    assert (host.etc / "grafana/dashboards/sportslog-overview.json").is_file()
    assert os.access(host.etc / "postgres/init-databases.sh", os.X_OK)

    # Every secret a unit names exists, and holds a value of the right shape.
    named = {
        value.split(",", 1)[0]
        for unit in host.units.glob("*.container")
        for value in unit_values(unit, "Secret")
    }
    assert named == {path.name for path in host.secrets.iterdir()}
    values = {name: host.secret(name) for name in named}
    for name, value in values.items():
        assert value, name
        assert not value.endswith("\n"), f"{name} ends with a newline"
        assert value not in result.stdout + result.stderr, f"{name} was printed"
    for name in (
        "token-hmac-secret",
        "event-seal-key",
        "oauth-token-encryption-key",
        "internal-api-key",
    ):
        assert len(base64.b64decode(values[f"sportslog-{name}"], validate=True)) == 32
    key = load_pem_private_key(values["sportslog-jwt-key"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    rabbit = values["sportslog-rabbitmq-password"]
    assert values["sportslog-amqp-url"] == f"amqp://sportslog:{rabbit}@rabbitmq:5672/"
    passwords = [values[f"sportslog-{a}-db-password"] for a in ("auth", "activities", "notifier")]
    assert len(set(passwords)) == 3

    assert host.calls()[-1] == "systemctl daemon-reload"
    assert not [call for call in host.calls() if call.startswith(("podman build", "systemctl st"))]


def test_a_second_run_keeps_settings_and_secrets(host):
    assert host.run().returncode == 0
    edited = host.etc / "notifier.env"
    edited.write_text("SMTP_HOST=mail.example.org\n")
    before = {path.name: path.read_text() for path in host.secrets.iterdir()}

    result = host.run()
    assert result.returncode == 0, result.stderr
    assert edited.read_text() == "SMTP_HOST=mail.example.org\n"
    assert {path.name: path.read_text() for path in host.secrets.iterdir()} == before
    assert not [call for call in host.calls() if call.startswith("podman secret create")]


def test_an_operators_own_secret_is_kept(host):
    (host.secrets / "sportslog-grafana-admin-password").write_text("chosen-by-me")
    assert host.run().returncode == 0
    assert host.secret("sportslog-grafana-admin-password") == "chosen-by-me"


def test_half_a_broker_credential_is_refused(host):
    (host.secrets / "sportslog-rabbitmq-password").write_text("abc")
    result = host.run()
    assert result.returncode == 1
    assert "must be made together" in result.stderr
    assert not (host.secrets / "sportslog-amqp-url").exists()


def test_build_and_start(host):
    result = host.run("--build", "--start")
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    builds = [call.split() for call in calls if call.startswith("podman build")]
    assert len(builds) == len(APPS)
    for app, build in zip(APPS, builds, strict=True):
        containerfile = Path(build[build.index("-f") + 1])
        assert containerfile == ROOT / "Containerfile"
        # The one Containerfile builds the service SERVICE names; without it, none.
        args = [build[i + 1] for i, word in enumerate(build) if word == "--build-arg"]
        assert f"SERVICE={app}" in args, f"{app}: built without --build-arg SERVICE={app}"
        assert build[build.index("-t") + 1] == f"localhost/sportslog-{app}:latest"
        assert Path(build[-1]) == ROOT
    started = " ".join(call for call in calls if call.startswith("systemctl"))
    for unit in host.units.glob("*.container"):
        assert f"{unit.stem}.service" in started
    assert calls.index("systemctl daemon-reload") < calls.index(
        next(call for call in calls if call.startswith("systemctl start"))
    )


def test_scale_out_and_back(host):
    result = host.run("--scale", "activities=3", "--scale", "notifier=2", "--start")
    assert result.returncode == 0, result.stderr
    base = (QUADLETS / "sportslog-activities.container").read_text()
    for index in (2, 3):
        copy = host.units / f"sportslog-activities-{index}.container"
        assert unit_values(copy, "ContainerName") == [f"sportslog-activities-{index}"]
        # Same alias, image, settings and secrets: only the name differs.
        assert (
            copy.read_text().replace(f"sportslog-activities-{index}\n", "sportslog-activities\n")
            == base
        )
        assert unit_values(copy, "PodmanArgs") == ["--network-alias=activities"]
    assert (host.units / "sportslog-notifier-2.container").is_file()
    restarted = next(call for call in host.calls() if call.startswith("systemctl restart"))
    assert {"sportslog-activities-2.service", "sportslog-activities-3.service"} <= set(
        restarted.split()
    )

    # A plain re-run (an upgrade) keeps the copies.
    assert host.run().returncode == 0
    assert (host.units / "sportslog-activities-3.container").is_file()

    result = host.run("--scale", "activities=1")
    assert result.returncode == 0, result.stderr
    assert not list(host.units.glob("sportslog-activities-*.container"))
    assert "systemctl stop sportslog-activities-3.service" in host.calls()
    assert (host.units / "sportslog-notifier-2.container").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scale", "gateway=2"), "gateway cannot be scaled"),
        (("--scale", "activities=0"), "count from 1 to 16"),
        (("--scale", "activities=x"), "count from 1 to 16"),
        (("--scale",), "needs SERVICE=N"),
        (("--bogus",), "unknown option --bogus"),
    ],
)
def test_bad_arguments_change_nothing(host, args, message):
    result = host.run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert not host.etc.exists()
    assert not host.calls()


def test_too_old_podman_is_refused(host):
    result = host.run(FAKE_PODMAN_VERSION="4.3.1")
    assert result.returncode == 1
    assert "Podman 4.4 or later" in result.stderr
    assert not host.etc.exists()
