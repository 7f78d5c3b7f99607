"""The one table `make bench` ends with: each benchmark adds its headline figures."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


def memory_kib(pid: int, field_name: str = "VmRSS") -> int:
    """VmRSS (resident now) or VmHWM (the peak since the process started), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


def load_generators() -> str:
    wrk = shutil.which("wrk")
    version = "missing"
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        version = (out.stdout or out.stderr).split()[1] if (out.stdout or out.stderr) else "?"
    return f"wrk {version} (Debian package `wrk`), httpx (PyPI) for latency samples"


@dataclass
class Summary:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, benchmark: str, figure: str, value: str) -> None:
        self.rows.append((benchmark, figure, value))

    def rss(self, benchmark: str, label: str, pids: dict[str, int], peak: bool) -> None:
        for name, pid in pids.items():
            kib = memory_kib(pid, "VmHWM" if peak else "VmRSS")
            self.add(benchmark, f"RSS {name} {label}", f"{kib / 1024:.1f} MiB")

    def render(self) -> str:
        cores = len(os.sched_getaffinity(0))
        header = [
            f"sports-log bench: {cores} cores, Python {platform.python_version()}, "
            f"{load_generators()}; every load on 127.0.0.1, bounded in time, one run",
        ]
        width = max((len(f) for _, f, _ in self.rows), default=10)
        lines = [f"{'benchmark':<10}  {'figure':<{width}}  value"]
        lines.append("-" * len(lines[0]) + "-" * 24)
        lines += [f"{b:<10}  {f:<{width}}  {v}" for b, f, v in self.rows]
        return "\n".join(header + lines)
