"""The argon2 thread pool is sized by the CPU the process may use, or PASSWORD_HASH_THREADS."""

import asyncio
import os
import threading

import pytest

from sportslog_auth.passwords import Passwords, usable_cpus


@pytest.mark.parametrize(
    ("cpu_max", "limit"),
    [
        ("max 100000\n", None),  # no limit: the affinity decides
        ("150000 100000\n", 2),  # --cpus=1.5 rounds up
        ("50000 100000\n", 1),
        ("100000000 100000\n", None),  # a limit above the cores changes nothing
        ("garbage", None),
    ],
)
def test_usable_cpus_honours_a_cgroup_limit(tmp_path, cpu_max, limit):
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    cores = len(os.sched_getaffinity(0))
    assert usable_cpus(path) == (min(cores, limit) if limit else cores)


def test_usable_cpus_without_cgroup_v2(tmp_path):
    assert usable_cpus(tmp_path / "missing") == len(os.sched_getaffinity(0))


async def test_the_pool_has_as_many_threads_as_asked():
    asked = len(os.sched_getaffinity(0)) + 1  # not what the default would pick
    before = set(threading.enumerate())  # other pools of this test process
    passwords = Passwords(1, 64, 1, threads=asked)
    try:
        await asyncio.gather(*(passwords.hash(f"pw{i}") for i in range(asked * 4)))
        mine = [t for t in set(threading.enumerate()) - before if t.name.startswith("argon2")]
    finally:
        passwords.close()
    assert len(mine) == asked
