"""Apply numbered `.sql` files in order, once, under an advisory lock.

Each service keeps `migrations/NNN_name.sql` inside its package. Applied files are recorded
with a SHA-256 checksum; an applied file that was edited afterwards stops start-up, because
replaying history that no longer matches the database is how schemas silently drift.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import structlog

from sportslog_common.db import Connection, Pool

log = structlog.get_logger("sportslog.migrations")

_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every replica of every service.
_LOCK_KEY = 0x5_0_0_7_5_1_0_6


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(source: Traversable | str) -> list[Migration]:
    """Read `NNN_name.sql` files from a folder (a package's `migrations/` or a path)."""
    folder = resources.files(source) / "migrations" if isinstance(source, str) else source
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"migration file {entry.name!r} is not named NNN_name.sql")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return found


async def apply_migrations(conn: Connection, migrations: list[Migration]) -> list[str]:
    """Apply what is missing; return the names applied. Safe to run from many replicas."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY, timeout=120)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        done: list[str] = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} was edited after it was applied "
                        f"(recorded checksum {row['checksum'][:12]}…, file "
                        f"{migration.checksum[:12]}…); add a new migration instead"
                    )
                continue
            async with conn.transaction():
                # A migration may rewrite a big table: not bound by the 5 s command timeout.
                await conn.execute(migration.sql, timeout=3600)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            log.info("migration_applied", migration=migration.name)
            done.append(migration.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def migrate(pool: Pool, package: str) -> list[str]:
    async with pool.acquire() as conn:
        return await apply_migrations(conn, load_migrations(package))
