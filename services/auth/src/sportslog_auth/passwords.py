"""argon2id hashing off the event loop, in one bounded thread pool per process, behind a
bounded queue: a hash that finds it full is refused at once with 503 `busy` (DESIGN.md §9)."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import structlog
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from sportslog_common.errors import Busy

log = structlog.get_logger("sportslog.auth.passwords")
T = TypeVar("T")

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


def _lower_priority(nice: int) -> None:
    """Run in each hashing thread as it starts: on Linux a nice value is per thread (the TID
    is its own scheduling entity), so the event loop, and PostgreSQL on the same host, win
    the CPU over argon2 during a login storm. `nice` is added to the thread's own (inherited
    from the process); raising one's own nice needs no privilege."""
    if nice <= 0:
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError) as exc:  # not Linux, or a sandbox that forbids it
        log.warning("password_hash_nice_failed", nice=nice, error=str(exc))


class Passwords:
    def __init__(
        self,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        threads: int = 0,
        queue: int = 64,
        nice: int = 0,
    ) -> None:
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
        workers = threads or usable_cpus()
        self._pool = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(nice,),
        )
        # Hashes running or waiting: the executor's own queue has no bound, so a login storm
        # would otherwise grow memory and every caller's wait without limit. A slot is freed
        # when its hash ends, not when its caller stops waiting (a cancelled request's hash
        # may still be running).
        self._slots = threading.BoundedSemaphore(workers + queue)
        # A verify against this hash costs what a real one does (unknown-user timing).
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hash_sync, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify_sync, password_hash, password)

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        if not self._slots.acquire(blocking=False):
            raise Busy(retry_after=1)  # the queue drains in well under a second
        try:
            future = self._pool.submit(work, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(future)

    async def verify_dummy(self, password: str) -> None:
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def _hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
