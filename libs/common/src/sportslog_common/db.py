"""One asyncpg pool per process, made at start-up after PostgreSQL answers."""

from __future__ import annotations

import errno
import json
import socket
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

log = structlog.get_logger("sportslog.db")

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    # What `pool.acquire()` yields and what `asyncpg.connect()` returns: queries take either.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection
Record = asyncpg.Record
UniqueViolation = asyncpg.UniqueViolationError

# PostgreSQL is away (down, unreachable, restarting, or our connection was killed): a
# request that meets one of these is answered 503, never 500 (`http.install_error_handlers`).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # 08xxx: e.g. "connection was closed in the middle"
    asyncpg.AdminShutdownError,  # 57P01: pg_terminate_backend, a fast shutdown
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03: starting up, in recovery
    asyncpg.TooManyConnectionsError,  # 53300
    ConnectionError,  # refused or reset while (re)connecting
    socket.gaierror,  # its host name no longer resolves (a container that is gone)
    TimeoutError,  # no answer within command_timeout (or the connect timeout)
    asyncpg.InterfaceError,  # only some: see `is_unavailable`
    asyncpg.InternalClientError,
)


UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL cannot be reached right now (not a bug of ours)."""
    if isinstance(exc, asyncpg.InterfaceError):
        # A pooled connection that died under us (asyncpg's wording, stable for years);
        # other interface errors are misuse, i.e. bugs.
        return "connection is closed" in str(exc)
    if isinstance(exc, asyncpg.InternalClientError):
        # An idle pooled connection the server just terminated (FATAL 57P01 read, EOF not
        # yet): the next query finds the protocol consuming that error, state 2
        # (MagicStack/asyncpg#784, #1069). The pool replaces the connection afterwards.
        return "another operation (2) is in progress" in str(exc)
    if isinstance(exc, OSError) and exc.errno in UNREACHABLE_ERRNOS:
        return True  # no route to it (a stopped container's address, a partition)
    return isinstance(exc, UNAVAILABLE_ERRORS)


# asyncpg waits 60 s for a new connection by default: with PostgreSQL unreachable but not
# refusing (a partition), a request needing a fresh pooled connection would hang that long,
# far past the gateway's upstream timeout, instead of failing fast with a 503.
CONNECT_TIMEOUT_SECONDS = 5.0


async def _init_connection(conn: Connection) -> None:
    # JSON columns come back as Python objects and go in from them.
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    command_timeout: float = 5,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    wait_seconds: float = 30,
) -> Pool:
    """Create the pool, retrying with backoff while PostgreSQL is still starting."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((OSError, asyncpg.CannotConnectNowError)),
        wait=wait_exponential(multiplier=0.2, max=2),
        stop=stop_after_delay(wait_seconds),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                log.info("waiting_for_postgres", attempt=attempt.retry_state.attempt_number)
            pool: Pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                command_timeout=command_timeout,
                timeout=connect_timeout,
                init=_init_connection,
            )
    return pool


async def connect(dsn: str) -> asyncpg.Connection[asyncpg.Record]:
    """A connection outside the pool (LISTEN, advisory locks held for a while)."""
    conn: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
        dsn, timeout=CONNECT_TIMEOUT_SECONDS
    )
    await _init_connection(conn)
    return conn


async def ping(pool: Pool) -> None:
    async with pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1", timeout=2)
