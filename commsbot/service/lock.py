"""One process per store: a lock file next to the database, held with ``flock``.

The kernel releases the lock when the process dies, however it dies, so a crash never
leaves a store locked; the file's text (PID, start time, what runs) only says who holds it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from commsbot.errors import StoreError

# A ``status`` probing the lock holds it for an instant; a starting service retries
# for this long before it concludes that another process holds it.
_RETRY_SECONDS = 0.5


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def _read(fd: int) -> dict[str, Any]:
    # Here, not at the top: only a lock someone holds is read, and the commsbot.text
    # package brings the regex library, which `run --once` with nothing to post has no
    # use for (#15).
    from commsbot.text.user_input import whole_number

    os.lseek(fd, 0, os.SEEK_SET)
    lines = os.read(fd, 4096).decode("utf-8", "replace").splitlines()
    pid = whole_number(lines[0]) if lines else None
    return {
        "pid": pid,
        "since": lines[1] if len(lines) > 1 else None,
        "what": lines[2] if len(lines) > 2 else None,
    }


class StoreLock:
    """``with StoreLock(db, "run"):`` holds the store for this process or raises StoreError."""

    def __init__(self, db_path: Path, what: str) -> None:
        self.db_path = db_path
        self.path = lock_path(db_path)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(_unwritable(self.db_path, self.path, exc)) from None
        deadline = time.monotonic() + _RETRY_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held = _read(fd)
                    os.close(fd)
                    raise StoreError(_refusal(self.db_path, self.path, held)) from None
                time.sleep(0.05)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n{stamp}\n{self.what}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)  # releases the lock
            raise StoreError(_unwritable(self.db_path, self.path, exc)) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        # Emptied first: a file left behind names no one once its holder is gone.
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _unwritable(db_path: Path, path: Path, exc: OSError) -> str:
    why = exc.strerror or str(exc)
    if exc.errno == errno.EROFS:
        why = "the file system is read-only"
    elif exc.errno == errno.ENOSPC:
        why = "the disk is full"
    return (
        f"{db_path}: cannot write the lock file {path}: {why}; commsbot needs to write in "
        "the store's folder (the store, its journal and this lock)"
    )


def _refusal(db_path: Path, path: Path, held: dict[str, Any]) -> str:
    who = f"PID {held['pid']}" if held["pid"] else "another process"
    what = f" ({held['what']} since {held['since']})" if held["what"] else ""
    return (
        f"{db_path}: the store is in use by commsbot {who}{what}; one process per store — "
        f"stop that one first (lock file {path})"
    )


def holder(db_path: Path) -> dict[str, Any] | None:
    """Who holds the store's lock (pid, since, what), or None when no one does."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
