"""One small async database interface over SQLite (aiosqlite) and PostgreSQL (asyncpg).

Queries are written once with ``?`` placeholders and portable SQL; the PostgreSQL
backend renumbers them to ``$1, $2, ...``. Uniqueness violations surface as
:class:`UniqueViolation` whichever engine raised them, because the one-winner
guarantee of a booking rests on them.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite
import asyncpg

Row = dict[str, Any]


class UniqueViolation(Exception):
    """A unique constraint refused a row: someone else got there first."""


class DatabaseUnavailable(Exception):
    """The database URL names a server that cannot be reached."""


class Connection(Protocol):
    async def fetch_all(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetch_one(self, sql: str, *args: Any) -> Row | None: ...
    async def execute(self, sql: str, *args: Any) -> int: ...


class Database(Protocol):
    dialect: str

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetch_one(self, sql: str, *args: Any) -> Row | None: ...
    async def execute(self, sql: str, *args: Any) -> int: ...
    def transaction(self) -> Any: ...
    async def close(self) -> None: ...


# --- SQLite ---------------------------------------------------------------------


class _SqliteConnection:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        try:
            async with self._conn.execute(sql, args) as cursor:
                return [dict(row) for row in await cursor.fetchall()]
        except sqlite3.IntegrityError as exc:
            raise _translate_sqlite(exc) from exc

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch_all(sql, *args)
        return rows[0] if rows else None

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            async with self._conn.execute(sql, args) as cursor:
                return cursor.rowcount
        except sqlite3.IntegrityError as exc:
            raise _translate_sqlite(exc) from exc


def _translate_sqlite(exc: sqlite3.IntegrityError) -> Exception:
    if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
        return UniqueViolation(str(exc))
    return exc


class SqliteDatabase:
    """One shared connection; the lock only keeps statements of concurrent transactions
    from interleaving on it. Conflicts are still decided by the schema's constraints."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._wrapped = _SqliteConnection(conn)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteDatabase:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA foreign_keys = ON")
        await conn.execute("PRAGMA busy_timeout = 5000")
        if path != ":memory:":
            await conn.execute("PRAGMA journal_mode = WAL")
        return cls(conn)

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await self._wrapped.fetch_all(sql, *args)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._lock:
            return await self._wrapped.fetch_one(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            return await self._wrapped.execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._wrapped
            except BaseException:
                await self._conn.execute("ROLLBACK")
                raise
            await self._conn.execute("COMMIT")

    async def close(self) -> None:
        await self._conn.close()


# --- PostgreSQL -----------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\?")


def to_numbered_placeholders(sql: str) -> str:
    """``? , ?`` → ``$1, $2`` (our SQL never has a literal question mark)."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


def _rowcount(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgConnection:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows = await self._conn.fetch(to_numbered_placeholders(sql), *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        return [dict(row) for row in rows]

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch_all(sql, *args)
        return rows[0] if rows else None

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            status = await self._conn.execute(to_numbered_placeholders(sql), *args)
        except asyncpg.UniqueViolationError as exc:
            raise UniqueViolation(str(exc)) from exc
        return _rowcount(status)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=10, timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
        return cls(pool)

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn).fetch_all(sql, *args)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn).fetch_one(sql, *args)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._pool.acquire() as conn:
            return await _PgConnection(conn).execute(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgConnection(conn)

    async def close(self) -> None:
        await self._pool.close()


async def open_database(url: str) -> SqliteDatabase | PostgresDatabase:
    """Open the database a URL names: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite:///"):
        return await SqliteDatabase.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresDatabase.open(url)
    raise ValueError("database URL must start with sqlite:/// or postgresql://")
