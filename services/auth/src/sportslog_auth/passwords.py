"""argon2id hashing off the event loop, in one bounded thread pool per process."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may really use: its CPU affinity, capped by a cgroup v2 CPU
    limit (a container's --cpus, a pod's limits.cpu), which os.cpu_count() ignores: on a
    16-core node a 1-CPU pod would otherwise hash on 16 threads, each holding its argon2
    memory while the kernel throttles them."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int, threads: int = 0) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Threads = usable cores (threads=0): hashing is CPU-bound, more threads only queue
        # inside the GIL-free C.
        self._pool = ThreadPoolExecutor(
            max_workers=threads or usable_cpus(), thread_name_prefix="argon2"
        )
        # A verify against this hash costs what a real one does (unknown-user timing).
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @property
    def parameters(self) -> tuple[int, int, int]:
        h = self._hasher
        return h.time_cost, h.memory_cost, h.parallelism

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._hasher.hash, password
        )

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._verify_sync, password_hash, password
        )

    async def verify_dummy(self, password: str) -> None:
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
