"""The store under pressure (#13): a full disk and a busy store are clear messages, the
real error is never hidden by a failed rollback, nothing stored is lost, and a long import
leaves other writers room."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from commsbot.content import items as content
from commsbot.errors import CommsbotError
from commsbot.store import Store
from commsbot.store import content as content_q
from tests.support.base import NOW, Invoke


def practices(count: int, prefix: str = "Imported") -> dict[str, list[dict[str, str]]]:
    return {
        "practices": [
            {
                "title": f"{prefix} practice {i}",
                "city": "plzen",
                "theme": "brokerage",
                "summary": "A summary long enough to take room. " * 20,
                "url": f"https://example.org/{prefix.lower()}/{i}",
            }
            for i in range(count)
        ]
    }


def counts(store: Store) -> dict[str, int]:
    return {t: store.scalar(f"SELECT count(*) FROM {t}") for t in ("practices", "posts")}


def test_a_full_disk_during_an_import_names_the_disk_and_loses_nothing(
    sample_store: Store, tmp_path: Path
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(practices(400)), encoding="utf-8")
    before = counts(sample_store)
    # A real SQLITE_FULL: the store may not grow past the pages it has (a disk with no room).
    pages = sample_store.scalar("PRAGMA page_count")
    sample_store.conn.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(CommsbotError) as caught:
        content.import_file(sample_store, big, NOW)

    message = str(caught.value)
    assert message.startswith(f"{sample_store.path}: the disk holding the store is full")
    assert "rollback" not in message  # the real error, not the failed rollback's
    sample_store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert counts(sample_store) == before
    assert sample_store.integrity() == "ok"


def test_a_busy_store_is_a_clear_message_not_a_raw_lock_error(
    sample_store: Store, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("commsbot.store.BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(str(sample_store.path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that does not let go
    try:
        result = invoke("queue", "add", "General meeting", "--channel", "outbox")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {sample_store.path}: the store stayed busy for over 0.2 s (another commsbot "
        "command or the service was writing); nothing was changed, try again\n"
    )


def import_file_of(rows: int, batch: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file of ``rows`` practices, imported ``batch`` rows a transaction, without pauses."""
    monkeypatch.setattr(content, "IMPORT_BATCH", batch)
    monkeypatch.setattr(content, "IMPORT_PAUSE_SECONDS", 0.0)
    path = tmp_path / "items.json"
    path.write_text(json.dumps(practices(rows)), encoding="utf-8")
    return path


def test_an_import_validates_without_the_write_lock_and_writes_in_batches(
    sample_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = import_file_of(350, 100, tmp_path, monkeypatch)
    other = sqlite3.connect(str(sample_store.path), timeout=0, isolation_level=None)
    got_in: list[bool] = []

    def another_writer(_: int) -> None:
        # Called while rows are validated: another writer must get the lock at once.
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            got_in.append(True)
        except sqlite3.OperationalError:
            got_in.append(False)

    transactions: list[int] = []
    insert = content_q.insert_items

    def counted(store: Store, item_type: str, items: list[dict[str, Any]], now: datetime) -> int:
        transactions.append(len(items))
        assert not store.conn.in_transaction  # each batch its own transaction
        return insert(store, item_type, items, now)

    monkeypatch.setattr(content_q, "insert_items", counted)
    try:
        added, _ = content.import_file(sample_store, path, NOW, progress=another_writer)
    finally:
        other.close()

    assert got_in == [True, True, True]
    assert added == {"practice": 350}
    assert transactions == [100, 100, 100, 50]


def test_a_full_disk_part_way_says_how_many_rows_went_in(
    sample_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = import_file_of(600, 50, tmp_path, monkeypatch)
    # Room for a few batches, not for all of them.
    pages = sample_store.scalar("PRAGMA page_count")
    sample_store.conn.execute(f"PRAGMA max_page_count = {pages + 120}")

    with pytest.raises(CommsbotError) as caught:
        content.import_file(sample_store, path, NOW)

    sample_store.conn.execute("PRAGMA max_page_count = 1073741823")
    imported = sample_store.scalar("SELECT count(*) FROM practices WHERE title LIKE 'Imported%'")
    assert 0 < imported < 600 and imported % 50 == 0
    assert f"{imported} of 600 rows were imported before this" in str(caught.value)
    # Importing again adds the rest, and nothing twice.
    added, skipped = content.import_file(sample_store, path, NOW, skip_invalid=True)
    assert added == {"practice": 600 - imported} and len(skipped) == imported
