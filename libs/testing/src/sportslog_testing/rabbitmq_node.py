"""A private RabbitMQ node, run as a child process, that a test may stop and start at will.

The broker every suite shares must never be stopped (other suites and CI use it at the
same time), so a test of a broker outage gets its own node: a unique node name, free AMQP
and distribution ports, its own data, log and `HOME` (so its own Erlang cookie), and no
plugins. It registers with the machine's epmd like any node. `stop_app` / `start_app`
take the broker away and bring it back the way an operator (or a crash and restart of the
RabbitMQ application) does: every client connection drops and new ones are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import uuid
from pathlib import Path

from sportslog_testing.helpers import free_port, wait_until

BIN_DIRS = ("/usr/lib/rabbitmq/bin", "/usr/local/lib/rabbitmq/bin", "/opt/rabbitmq/sbin")


def _bin_dir() -> Path:
    """The real scripts (not /usr/sbin's wrapper, which switches to the rabbitmq user)."""
    configured = os.environ.get("RABBITMQ_BIN_DIR")
    candidates = [configured] if configured else list(BIN_DIRS)
    for candidate in candidates:
        if candidate and (Path(candidate) / "rabbitmq-server").exists():
            return Path(candidate)
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise RuntimeError(
            "rabbitmq-server is not installed here (looked in "
            f"{', '.join(candidates)} and PATH); set RABBITMQ_BIN_DIR"
        )
    return Path(found).resolve().parent


class RabbitNode:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.name = f"sportslog-test-{uuid.uuid4().hex[:10]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self._bin = _bin_dir()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "server.out"

    def _env(self) -> dict[str, str]:
        d = self.base_dir
        return {
            **os.environ,
            "HOME": str(d),  # its own Erlang cookie, shared with rabbitmqctl below
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),  # not the machine's
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _spawn(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        (self.base_dir / "rabbitmq.conf").write_text("")
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        with self.log_file.open("ab") as out:
            # Its own session, so `stop` can end the shell wrapper and the VM together.
            self._process = subprocess.Popen(  # noqa: S603 (a fixed script, our arguments)
                [str(self._bin / "rabbitmq-server")],
                env=self._env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    async def start(self, timeout: float = 60) -> None:
        """Start the node and return once it runs (`rabbitmqctl await_startup`)."""
        self._spawn()  # returns at once; the node is awaited below
        try:
            await wait_until(
                self._listening, timeout=timeout, interval=0.2, message=f"{self.name} to listen"
            )
            await self.ctl("await_startup", "--timeout", str(int(timeout)))
        except BaseException:
            self.stop()
            raise

    def _listening(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    async def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run `rabbitmqctl -n <node> <args>` and return its output; raise if it fails."""
        process = await asyncio.create_subprocess_exec(
            str(self._bin / "rabbitmqctl"),
            "-n",
            self.name,
            "-q",
            *args,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.decode(errors='replace')}")
        return out.decode()

    async def stop_app(self) -> None:
        """The broker goes away: connections are closed and the AMQP port refuses."""
        await self.ctl("stop_app")

    async def start_app(self) -> None:
        await self.ctl("start_app")

    async def queues(self) -> dict[str, tuple[int, int]]:
        """Every queue's (messages, unacknowledged): `messages` counts both for quorum queues."""
        out = await self.ctl(
            "list_queues", "--no-table-headers", "name", "messages", "messages_unacknowledged"
        )
        depths: dict[str, tuple[int, int]] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                depths[parts[0]] = (int(parts[1]), int(parts[2]))
        return depths

    def stop(self, timeout: float = 30) -> None:
        """Halt the node and wait for it; kill its process group if it does not go."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(  # noqa: S603
                [str(self._bin / "rabbitmqctl"), "-n", self.name, "-q", "stop"],
                env=self._env(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
