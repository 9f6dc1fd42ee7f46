"""Backups of the store and restoring one: the operations behind ``backup`` and ``restore``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from commsbot.errors import StoreError
from commsbot.service.lock import StoreLock
from commsbot.store import Store
from commsbot.store import backup as backup_q
from commsbot.store.backup import Summary


def check(path: Path) -> Summary:
    """What the backup at ``path`` holds; a backup that fails its integrity check is an error."""
    found = backup_q.check(path)
    if found.integrity != "ok":
        raise StoreError(f"{path}: fails its integrity check: {found.integrity}")
    return found


def backup(store: Store, path: Path, now: datetime, *, force: bool = False) -> Summary:
    """Copy the store to ``path``, safely while the service runs."""
    return backup_q.backup(store, path, now, force=force)


def restore(store_path: Path, path: Path, now: datetime) -> tuple[Summary, Path | None, int]:
    """Put the backup at ``path`` in place of the store, holding the store's lock: what
    was restored, where the replaced store is kept, how many due posts now wait."""
    with StoreLock(store_path, "commsbot restore"):
        return backup_q.restore(store_path, path, now)
