"""The store: one SQLite file, the only place that knows SQL.

Connections are per thread. Writes are short transactions opened with
``BEGIN IMMEDIATE`` so that a second writer waits on the busy timeout instead of
failing halfway through a read-then-write.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from commsbot.errors import StoreError
from commsbot.store.migrations import MIGRATIONS, WITHOUT_FOREIGN_KEYS

BUSY_TIMEOUT_MS = 10_000
WAL_CHECKPOINT_PAGES = 10_000


RESTORE_HINT = "if it is the store, put a backup in its place: commsbot restore BACKUP"


def unusable(path: Path, exc: Exception) -> StoreError:
    """The message for a file SQLite cannot read as a store: not a database at all, or a
    store whose bytes are damaged (a schema that is not UTF-8 text, a malformed page)."""
    if isinstance(exc, UnicodeDecodeError):
        detail = "damaged: its schema is not UTF-8 text"
    elif "malformed" in str(exc):
        detail = f"damaged: {exc}"
    else:
        detail = f"not a usable SQLite store ({exc})"
    return StoreError(f"{path}: {detail}; {RESTORE_HINT}")


# A run stamps thousands of rows with the same few moments (its "now", a slot's time):
# strftime was a tenth of the pipeline's time, so each moment is formatted once.
@functools.lru_cache(maxsize=1024)
def iso(moment: datetime) -> str:
    """A timestamp as stored: UTC, second precision, sortable as text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the store")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> datetime:
    """A stored timestamp back as an aware datetime (fromisoformat reads the Z since 3.11)."""
    return datetime.fromisoformat(text)


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _full(path: Path) -> bool:
    """Too little room left to open the store (its journal and shared memory files)."""
    try:
        found = os.statvfs(path.parent)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 1024 * 1024


def explain(path: Path, exc: sqlite3.Error) -> StoreError | None:
    """What a user can do about an SQLite error they can fix (None: not one of those)."""
    text = str(exc)
    if "database or disk is full" in text:
        why = (
            "the disk holding the store is full; nothing of this change was written and "
            "the store is as it was. Free some space, then try again"
        )
    elif "database is locked" in text or "database is busy" in text:
        why = (
            f"the store stayed busy for over {BUSY_TIMEOUT_MS / 1000:g} s (another commsbot "
            "command or the service was writing); nothing was changed, try again"
        )
    elif "readonly" in text or "read-only" in text:
        why = "the store cannot be written (a read-only file or file system)"
    elif "disk I/O error" in text:
        why = "the disk failed while reading or writing the store; check it, then try again"
    else:
        return None
    return StoreError(f"{path}: {why}")


class Store:
    """An open store. Create one per thread; ``close`` when done."""

    def __init__(self, path: Path | str, *, migrate: bool = True, upto: int | None = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot create its folder: {exc.strerror}") from None
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # A run claims and records the same outbox pages several times: checkpointing
            # every 40 MB of WAL (not SQLite's 4 MB) copies each page to the file once and
            # syncs a few times a run, not every thousand posts. Durability is unchanged.
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            # A statement that fires a trigger keeps a statement journal (to undo just that
            # statement); on disk that is a temporary file written page by page for every
            # row of an executemany (half a million writes a 10,000-post run, #15). In
            # memory it costs a few pages; it is never needed after a crash, so durability
            # is unchanged.
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if _read_only(self.path):
                raise StoreError(
                    f"{self.path}: the file system holding the store is read-only; commsbot "
                    "needs to write there (the store, its journal and lock file)"
                ) from None
            if _full(self.path):
                raise StoreError(
                    f"{self.path}: the disk holding the store is full; free some space, "
                    "then try again (nothing was changed)"
                ) from None
            raise unusable(self.path, exc) from None
        self.conn = conn
        if migrate:
            self.migrate(upto)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; nested calls join the outer one.

        A full disk, a read-only file system, a failing disk or a writer that held the lock
        past the busy timeout becomes a StoreError saying so; the transaction is rolled
        back whole, so the store stays as it was.
        """
        if self.conn.in_transaction:
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self._rollback()
                raise
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            explained = explain(self.path, exc)
            if explained is None:
                raise
            raise explained from exc

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does): a second rollback would
        # fail with "no transaction is active" and hide the real error.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        # Every row has the description's length. Mapped in C, not a comprehension's loop
        # (and a strict zip) a row: a third less time a row of ten columns (#15).
        return list(map(dict, map(zip, repeat(names), cur.fetchall())))

    def row(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # -- schema -------------------------------------------------------------

    def version(self) -> int:
        if not self.scalar("SELECT 1 FROM sqlite_master WHERE name = 'migrations'"):
            return 0
        return int(self.scalar("SELECT coalesce(max(id), 0) FROM migrations"))

    def applied(self) -> set[int]:
        return {int(r[0]) for r in self.conn.execute("SELECT id FROM migrations")}

    def migrate(self, upto: int | None = None) -> list[str]:
        """Apply the migrations this store lacks, each in its own transaction."""
        try:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations "
                "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = self.version()
            done = self.applied()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise unusable(self.path, exc) from None
        newest = max(number for number, _, _ in MIGRATIONS)
        if current > newest:
            raise StoreError(
                f"{self.path}: made by a newer commsbot (schema {current}, this one knows "
                f"{newest}); upgrade commsbot rather than risk the data"
            )
        applied = []
        for number, name, script in MIGRATIONS:
            # By set, not by maximum: capabilities built side by side take their own numbers.
            if number in done or (upto is not None and number > upto):
                continue
            stamp = iso(datetime.now(UTC))
            # Outside a transaction, or SQLite ignores it.
            if number in WITHOUT_FOREIGN_KEYS:
                self.conn.execute("PRAGMA foreign_keys = OFF")
            # executescript commits anything pending, so the transaction is in the script.
            try:
                self.conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\n"
                    f"INSERT INTO migrations (id, name, applied_at) "
                    f"VALUES ({number}, '{name}', '{stamp}');\nCOMMIT;"
                )
            except sqlite3.DatabaseError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StoreError(
                    f"{self.path}: migration {number} ({name}) failed: {exc}"
                ) from None
            finally:
                self.conn.execute("PRAGMA foreign_keys = ON")
            applied.append(f"{number:03d} {name}")
        if current == 0 and applied:
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('store_id', ?)",
                (uuid.uuid4().hex,),
            )
        return applied

    def meta(self, key: str) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def integrity(self) -> str:
        return str(self.scalar("PRAGMA integrity_check"))
