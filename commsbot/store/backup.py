"""Backups of the store made while it is in use, their check, and putting one back.

A backup goes through SQLite's online backup API: one step that reads a consistent
snapshot (WAL readers never block the service's writes) into a temporary file, which is
checked and only then renamed over the target, so a half-written backup never looks like
a complete one. A backup is one self-contained file (rollback journal, no ``-wal``).
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from commsbot.errors import StoreError
from commsbot.store import Store, iso, unusable
from commsbot.store.migrations import MIGRATIONS

# What a backup's summary counts, in the order it prints them.
COUNTED = ("posts", "practices", "events", "newsletters", "news", "subscribers")
# Posts that may have gone out after the backup was made, so are not sent again blindly.
MAY_HAVE_GONE = ("queued", "sending")
MADE_AT = "backup_made_at"


@dataclass(frozen=True)
class Summary:
    """What a store file holds: enough to tell a good backup from a bad one."""

    path: Path
    size: int
    schema: int
    integrity: str
    counts: dict[str, int]
    # When ``commsbot backup`` made it (UTC, as stored); None for a copy made otherwise.
    made_at: str | None = None
    # The images its posts and practices name (paths or URLs, as stored).
    images: frozenset[str] = frozenset()

    def describe(self) -> str:
        figures = ", ".join(f"{n} {table}" for table, n in self.counts.items())
        made = f", made {self.made_at}" if self.made_at else ""
        return (
            f"{self.path}: {self.size:,} bytes, schema {self.schema}{made}, "
            f"integrity {self.integrity}; {figures}"
        )


def _is_file(path: Path) -> bool:
    """Whether a file is there; a path the system cannot even look up (a name too long)
    is a StoreError naming it."""
    try:
        return path.is_file()
    except OSError as exc:
        raise StoreError(f"{path}: {exc.strerror}") from None


def check(path: Path) -> Summary:
    """Open a store file read-only and say what it holds; StoreError if it is no store."""
    if not _is_file(path):
        raise StoreError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot be opened ({exc})") from None
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "migrations" not in tables:
            raise StoreError(f"{path}: not a commsbot store (it has no migrations table)")
        schema = int(conn.execute("SELECT coalesce(max(id), 0) FROM migrations").fetchone()[0])
        counts = {
            t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in COUNTED
            if t in tables
        }
        images = frozenset(_images(conn, tables))
        made = None
        if "meta" in tables:
            found = conn.execute("SELECT value FROM meta WHERE key = ?", (MADE_AT,)).fetchone()
            made = found[0] if found else None
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        raise unusable(path, exc) from None
    finally:
        conn.close()
    return Summary(path, path.stat().st_size, schema, integrity, counts, made, images)


# A JSON list of images as json_each reads it: a value that is not JSON is read as none
# (json_each would fail on it), and one that is not a list too (taken for a list of one).
_LIST = "CASE WHEN json_valid({0}) AND json_type({0}) = 'array' THEN {0} ELSE '[]' END"


def _images(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    """Every image a post or a practice in the store names."""
    found: list[str] = []
    if "posts" in tables:
        found += [
            str(r[0])
            for r in conn.execute(
                "SELECT DISTINCT json_extract(payload, '$.image') FROM posts "
                "WHERE json_valid(payload) AND json_extract(payload, '$.image') IS NOT NULL"
            )
        ]
        # A post's further images (Bluesky's, after the first), named alike.
        further = _LIST.format("CASE WHEN json_valid(payload) THEN payload -> '$.images' END")
        found += [
            str(r[0])
            for r in conn.execute(
                f"SELECT DISTINCT i.value FROM posts, json_each({further}) i WHERE i.type = 'text'"
            )
        ]
    if "practices" in tables:
        found += [
            str(r[0])
            for r in conn.execute("SELECT DISTINCT image FROM practices WHERE image IS NOT NULL")
        ]
        columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(practices)")}
        if "images" in columns:  # a backup from before migration 26 has none
            listed = _LIST.format("images")
            found += [
                str(r[0])
                for r in conn.execute(
                    f"SELECT DISTINCT i.value FROM practices, json_each({listed}) i "
                    "WHERE i.type = 'text'"
                )
            ]
    return found


def backup(store: Store, target: Path, now: datetime, *, force: bool = False) -> Summary:
    """Copy the open store to ``target`` (refused if it exists, unless ``force``)."""
    try:
        exists, folder = target.exists(), target.parent.is_dir()
    except OSError as exc:
        raise StoreError(f"{target}: {exc.strerror}") from None
    if exists and not force:
        raise StoreError(f"{target}: already exists; give --force to overwrite it")
    if exists and target.resolve() == store.path.resolve():
        raise StoreError(f"{target}: that is the store itself")
    if not folder:
        raise StoreError(f"{target}: the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        _copy(store.conn, partial, made_at=iso(now))
        summary = check(partial)
        if summary.integrity != "ok":
            raise StoreError(f"{target}: the copy failed its integrity check: {summary.integrity}")
        os.replace(partial, target)
    except OSError as exc:
        raise StoreError(f"{target}: cannot write the backup: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return dataclasses.replace(summary, path=target)


def _copy(source: sqlite3.Connection, path: Path, made_at: str | None = None) -> None:
    """The whole database in one backup step, into a single self-contained file; a backup
    notes when it was made (the snapshot's time) in its own ``meta``."""
    try:
        dest = sqlite3.connect(str(path))
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot be created ({exc})") from None
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode = DELETE")
        if made_at is not None:
            with dest:
                dest.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (MADE_AT, made_at)
                )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: the backup failed ({exc})") from None
    finally:
        dest.close()


def restore(store_path: Path, source: Path, now: datetime) -> tuple[Summary, Path | None, int]:
    """Put a backup in place of the store; the caller holds the store's lock.

    The current store is first copied aside (nothing is lost), then the backup is written
    into it through SQLite, which keeps its ``-wal`` consistent. Returns the backup's
    summary, where the replaced store went (None if there was none), and how many posts
    were held for approval.
    """
    found = check(source)
    if found.integrity != "ok":
        raise StoreError(f"{source}: fails its integrity check ({found.integrity}); not restored")
    newest = max(number for number, _, _ in MIGRATIONS)
    if found.schema > newest:
        raise StoreError(
            f"{source}: made by a newer commsbot (schema {found.schema}, this one knows {newest})"
        )
    aside = None
    if store_path.exists():
        aside = store_path.with_name(f"{store_path.name}.replaced-{now:%Y%m%dT%H%M%SZ}")
        try:
            with Store(store_path, migrate=False) as current:
                _copy(current.conn, aside)
        except StoreError:
            # A damaged store cannot be read through SQLite: its files move aside as they are.
            for suffix in ("", "-wal", "-shm"):
                part = store_path.with_name(store_path.name + suffix)
                if part.exists():
                    os.replace(part, aside.with_name(aside.name + suffix))
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        with Store(store_path, migrate=False) as store:
            src.backup(store.conn)
    except sqlite3.Error as exc:
        message = f"{store_path}: the restore failed ({exc}); the store is as it was"
        raise StoreError(message) from None
    finally:
        src.close()
    with Store(store_path) as store:  # an older backup is upgraded in place
        held = hold_due_posts(store, now, found)
    return found, aside, held


def hold_due_posts(store: Store, now: datetime, restored: Summary) -> int:
    """Posts that were due but not known sent in the backup may have gone out after it
    was made: they wait for approval instead of being posted a second time.

    Their last attempt is taken to be the backup's time, so that a channel that can look
    its posts up (Mastodon) does so before it posts one that is approved.
    """
    why = (
        f"restored from the backup {restored.path.name}: it may have been sent after the "
        "backup was made; check the channel, then queue approve or queue cancel"
    )
    marks = ", ".join("?" * len(MAY_HAVE_GONE))
    with store.write() as conn:
        cur = conn.execute(
            f"UPDATE posts SET status = 'pending_approval', last_error = ?, updated_at = ?, "
            f"attempted_at = coalesce(attempted_at, ?) "
            f"WHERE status IN ({marks}) AND not_before <= ?",
            (why, iso(now), restored.made_at, *MAY_HAVE_GONE, iso(now)),
        )
        # The live store is no backup: its copies say when they were made.
        conn.execute("DELETE FROM meta WHERE key = ?", (MADE_AT,))
        return cur.rowcount
