"""argon2id hashing off the event loop, in one bounded thread pool per process."""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        # Threads = cores: hashing is CPU-bound, more threads only queue inside the GIL-free C.
        self._pool = ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1, thread_name_prefix="argon2"
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
