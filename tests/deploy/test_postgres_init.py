"""deploy/postgres/init-databases.sh, run with psql against the real server: one role per
service, owning its own database and shut out of the others (issue 8, item 2)."""

import os
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from sportslog_common.migrations import migrate

SCRIPT = Path(__file__).resolve().parents[2] / "deploy/postgres/init-databases.sh"
SERVICES = ("auth", "activities", "notifier")


def run_script(
    admin_url: str, prefix: str, passwords: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    parts = urlsplit(admin_url)
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGPASSWORD": parts.password or "",
        "POSTGRES_USER": parts.username or "postgres",
        "SPORTSLOG_DB_PREFIX": prefix,
        **{f"{service.upper()}_DB_PASSWORD": pw for service, pw in passwords.items()},
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def url_as(admin_url: str, role: str, database: str) -> str:
    # The server trusts loopback here, so the role's password is not what lets it in;
    # the CONNECT privilege still decides which databases it may open.
    parts = urlsplit(admin_url)
    return f"postgresql://{role}@{parts.hostname}:{parts.port or 5432}/{database}"


@pytest.fixture
async def prefix(postgres_admin_url: str) -> AsyncIterator[str]:
    prefix = f"sltest_{uuid.uuid4().hex[:8]}"
    yield prefix
    conn = await asyncpg.connect(postgres_admin_url)
    try:
        for service in SERVICES:
            await conn.execute(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')
            await conn.execute(f'DROP ROLE IF EXISTS "{prefix}_{service}"')
    finally:
        await conn.close()


def passwords() -> dict[str, str]:
    # A quote and a backslash prove the password reaches SQL as a literal, not as text.
    return {service: f"{secrets.token_hex(8)}'\\x" for service in SERVICES}


async def test_each_service_owns_its_database_and_nothing_else(postgres_admin_url, prefix):
    chosen = passwords()
    result = run_script(postgres_admin_url, prefix, chosen)
    assert result.returncode == 0, result.stderr
    for password in chosen.values():
        assert password not in result.stdout + result.stderr

    admin = await asyncpg.connect(postgres_admin_url)
    try:
        roles = await admin.fetch(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolcanlogin, rolpassword"
            " FROM pg_authid WHERE rolname LIKE $1 ORDER BY rolname",
            f"{prefix}_%",
        )
        owners = dict(
            await admin.fetch(
                "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE $1",
                f"{prefix}_%",
            )
        )
    finally:
        await admin.close()
    assert [r["rolname"] for r in roles] == sorted(f"{prefix}_{s}" for s in SERVICES)
    for role in roles:
        assert role["rolcanlogin"]
        assert not role["rolsuper"]
        assert not role["rolcreatedb"]
        assert not role["rolcreaterole"]
        assert role["rolpassword"].startswith("SCRAM-SHA-256$")  # stored hashed
    assert owners == {f"{prefix}_{s}": f"{prefix}_{s}" for s in SERVICES}

    for service in SERVICES:
        own = f"{prefix}_{service}"
        # The role's rights are enough for the service's own migrations.
        pool = await asyncpg.create_pool(
            url_as(postgres_admin_url, own, own), min_size=1, max_size=1
        )
        try:
            assert await migrate(pool, f"sportslog_{service}")
        finally:
            await pool.close()
        for other in SERVICES:
            if other != service:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await asyncpg.connect(url_as(postgres_admin_url, own, f"{prefix}_{other}"))


async def test_running_it_again_rotates_passwords_and_keeps_the_data(postgres_admin_url, prefix):
    assert run_script(postgres_admin_url, prefix, passwords()).returncode == 0
    auth = f"{prefix}_auth"
    conn = await asyncpg.connect(url_as(postgres_admin_url, auth, auth))
    try:
        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
    finally:
        await conn.close()

    admin = await asyncpg.connect(postgres_admin_url)
    try:
        before = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", auth)
        assert run_script(postgres_admin_url, prefix, passwords()).returncode == 0
        after = await admin.fetchval("SELECT rolpassword FROM pg_authid WHERE rolname = $1", auth)
    finally:
        await admin.close()
    assert after != before

    conn = await asyncpg.connect(url_as(postgres_admin_url, auth, auth))
    try:
        assert await conn.fetchval("SELECT x FROM kept") == 7
    finally:
        await conn.close()


async def test_a_missing_password_stops_it_before_anything_is_created(postgres_admin_url, prefix):
    chosen = passwords()
    del chosen["notifier"]
    result = run_script(postgres_admin_url, prefix, chosen)
    assert result.returncode != 0
    assert "NOTIFIER_DB_PASSWORD is not set" in result.stderr
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        count = await admin.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", f"{prefix}_%"
        )
    finally:
        await admin.close()
    assert count == 0
