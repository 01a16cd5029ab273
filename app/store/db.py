"""The database: engine, sessions, and bringing the schema up to date with Alembic."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a write waits for SQLite's one writer lock: the API's and the jobs' own transactions.
BUSY_TIMEOUT_MS = 5000
# The same for writes that someone is waiting behind (Slack's runs, readiness): they give up quickly
# and are written later instead (app/runs/record_writer.py).
QUICK_BUSY_TIMEOUT_MS = 100
# The advisory lock an upgrade holds (any fixed number: only upgrades take it).
_UPGRADE_LOCK_KEY = 0x61636D65  # "acme"
# A PostgreSQL lock on the row /readyz writes to (a migration holds it) is a busy database, not a broken one.
_PG_LOCK_NOT_AVAILABLE = "55P03"


def _sqlite_pragmas(file: Path | None, dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets `acme serve` read while a worker writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    if file is not None:
        record.info["file_id"] = _file_id(file)


def _file_id(file: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(file)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _same_file_or_reconnect(file: Path, dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """On each checkout: is the file at the path still the one this connection has open?

    SQLite keeps writing to a file that was deleted or replaced under it, and every answer says it
    worked; the rows are gone at the next start. A stat per checkout (microseconds) notices it: the
    pool then opens the path again, which fails if nothing is there (see _open_existing_file_only).
    """
    if _file_id(file) != record.info.get("file_id"):
        raise DisconnectionError(f"the database file {file} was deleted or replaced")


def _open_existing_file_only(file: Path, dialect: Any, record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    # SQLite creates a missing file, empty: a deleted database would come back without its tables. Only
    # the migrations (their own engine) create it.
    cargs[:] = [f"{file.as_uri()}?mode=rw"]
    cparams["uri"] = True


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, absolute; None for other databases and SQLite in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.query.get("uri") or parsed.database.startswith("file:"):
        return None
    return Path(parsed.database).absolute()


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    if url.startswith("sqlite"):
        # The wait for the lock is sqlite3's `timeout`, in force from the first statement (the pragmas too).
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})
        file = sqlite_file(url)
        event.listen(engine, "connect", partial(_sqlite_pragmas, file))
        if file is not None:
            event.listen(engine, "do_connect", partial(_open_existing_file_only, file))
            event.listen(engine, "checkout", partial(_same_file_or_reconnect, file))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Bring the schema at `url` up to the newest migration (an empty database included).

    Several `acme serve` starting at once against one PostgreSQL take turns: each holds an advisory lock for
    its upgrade (on SQLite, a lock on the file), and the ones after the first find the schema up to date.
    Without it, two creating the same tables fail one of them ("duplicate key value violates unique
    constraint", "table agents already exists")."""
    file = sqlite_file(url)
    if file is not None and file.parent.is_dir():  # (a missing folder is said by SQLite, as before)
        # The same for processes sharing a SQLite file: flock is apart from SQLite's own (fcntl) locks.
        with file.open("ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            command.upgrade(alembic_config(url), "head")
        return
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(alembic_config(url), "head")
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _UPGRADE_LOCK_KEY})
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _UPGRADE_LOCK_KEY})
    finally:
        engine.dispose()


def driver_detail(exc: SQLAlchemyError) -> str:
    """The driver's first line of why (read-only, no such table, connection refused); SQLAlchemy's own adds the
    statement and a link to its docs on more lines."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]


def is_busy(exc: SQLAlchemyError) -> bool:
    """A lock held by another writer: the write can be tried again later, nothing is broken."""
    orig = getattr(exc, "orig", None)
    return "database is locked" in str(orig) or getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE


# SQLite's primary result codes for a lock, an I/O error and a file it cannot open: worth trying again.
_SQLITE_TRANSIENT = {5, 6, 10, 14}  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN


def is_transient(exc: SQLAlchemyError) -> bool:
    """Worth trying again later (a lock, a lost connection, a missing file), unlike a missing table."""
    if not isinstance(exc, OperationalError):
        return False
    if is_busy(exc) or exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return sqlite_code & 0xFF in _SQLITE_TRANSIENT
    sqlstate = getattr(orig, "sqlstate", None)
    # PostgreSQL: no state when the connection failed; 08 connection, 57P shutting down, 53 out of resources.
    return sqlstate is None or sqlstate.startswith(("08", "57P", "53"))


class Database:
    def __init__(self, url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.file = sqlite_file(url)
        self.engine = make_engine(url, busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._quick: Database | None = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back on an error."""
        with self._sessions() as session, session.begin():
            yield session

    def quick(self) -> Database:
        """The same database for writes that must not wait long for SQLite's lock: they fail after 0.1 s.

        A connection of its own for SQLite files (the wait is a setting of the connection); the database
        itself elsewhere (PostgreSQL's writers of new rows do not wait for each other; SQLite in memory is
        a database per engine).
        """
        if self.file is None:
            return self
        if self._quick is None:
            self._quick = Database(self.url, busy_timeout_ms=QUICK_BUSY_TIMEOUT_MS)
        return self._quick

    def unwritable(self) -> str | None:
        """Why a write would fail now, or None: a write in a transaction that is rolled back.

        A database that is only busy (another writer holds the lock) counts as writable.
        """
        if self.file is not None and not self.file.exists():
            return f"the database file {self.file.name} is gone (deleted or moved)"
        try:
            with self.quick().engine.connect() as connection:
                transaction = connection.begin()
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SET LOCAL lock_timeout = '500ms'"))
                # alembic_version is there in every migrated database, and this changes nothing in it.
                connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
                transaction.rollback()
        except SQLAlchemyError as exc:
            if is_busy(exc):
                return None
            return f"the database refuses a write: {driver_detail(exc)[:200]}"
        return None

    def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
        self.engine.dispose()
