"""The store: migrations, upgrade in place, safety settings, bad files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from commsbot.errors import StoreError
from commsbot.store import Store
from commsbot.store import content as q
from commsbot.store.migrations import MIGRATIONS
from tests.support.base import NOW, Invoke, outcomes


def test_new_store_has_every_migration_recorded(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.applied() == {n for n, _, _ in MIGRATIONS}
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA busy_timeout") == 10_000
        # Statement journals in memory (no temporary file written per row a trigger
        # fires on), with commits as durable as before (#15).
        assert store.scalar("PRAGMA temp_store") == 2
        assert store.scalar("PRAGMA synchronous") == 1
        assert len(store.meta("store_id") or "") == 32


def test_old_store_upgrades_in_place_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path, upto=1) as old:
        assert old.applied() == {1}
        assert not old.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'posts'")
        # Rows as version 1 held them: today's code writes columns later versions added.
        old.conn.execute(
            "INSERT INTO cities (slug, name, country) VALUES ('linz', 'Linz', 'Austria')"
        )
        old.conn.execute("INSERT INTO themes (slug, name) VALUES ('brokerage', 'Brokerage')")
        q.insert_items(
            old,
            "practice",
            [{"slug": "linz-hub", "title": "Hub", "city": "linz", "theme": "brokerage"}],
            NOW,
        )
    with Store(path) as new:
        assert new.applied() == {n for n, _, _ in MIGRATIONS}
        assert new.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'posts'") == 1
        item = q.get_item(new, "practice", "linz-hub")
        assert item is not None and item["title"] == "Hub"
        assert new.integrity() == "ok"


def test_store_from_a_newer_commsbot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Store(path) as store:
        store.conn.execute("INSERT INTO migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')")
    with pytest.raises(StoreError, match="newer commsbot"):
        Store(path)


def test_a_file_that_is_not_sqlite_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the droids\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.db: not a usable SQLite store"):
        Store(path)


def test_unique_constraint_makes_a_second_post_of_an_item_impossible(sample_store: Store) -> None:
    from commsbot.store import posts

    row = {
        "item_type": "practice",
        "item_id": 1,
        "item_ref": "x",
        "channel": "outbox",
        "status": "queued",
        "text": "t",
        "not_before": "2026-01-01T00:00:00Z",
    }
    assert posts.insert_posts(sample_store, [row], NOW) == 1
    assert posts.insert_posts(sample_store, [row], NOW) == 0
    with pytest.raises(sqlite3.IntegrityError):
        sample_store.conn.execute(
            "INSERT INTO posts (item_type, item_id, item_ref, channel, status, not_before, "
            "idempotency_key, created_at, updated_at) VALUES "
            "('practice', 1, 'x', 'outbox', 'queued', '', 'other-key', '', '')"
        )


def test_posts_inserted_and_recorded_by_the_thousand_keep_order_and_skip_repeats(
    store: Store,
) -> None:
    """More posts than one statement takes (#15): every one stored once, in the order
    given, a repeat in a later statement ignored; every outcome of a batch recorded."""
    from commsbot.store import posts

    def row(i: int) -> dict[str, object]:
        return {
            "item_type": "announcement",
            "item_id": i,
            "item_ref": str(i),
            "channel": "outbox",
            "status": "queued",
            "text": f"post {i}",
            "payload": {"link": None, "n": i},
            "not_before": "2026-01-01T00:00:00Z",
        }

    rows = [row(i) for i in range(2_500)]
    rows.insert(1_700, row(3))
    assert posts.insert_posts(store, rows, NOW) == 2_500
    stored = store.rows("SELECT id, item_id, text, payload FROM posts ORDER BY id")
    assert [r["item_id"] for r in stored] == list(range(2_500))
    assert [r["id"] for r in stored] == list(range(stored[0]["id"], stored[0]["id"] + 2_500))
    assert stored[42]["payload"] == '{"link": null, "n": 42}'
    claimed = posts.claim_due(store, "outbox", NOW, 3_000, NOW)
    assert len(claimed) == 2_500
    posts.record_outcomes(
        store,
        outcomes(
            *(
                {"id": r["id"], "status": "failed", "attempts": 1, "last_error": f"e{r['item_id']}"}
                for r in claimed
            )
        ),
        NOW,
    )
    failed = store.rows("SELECT item_id, last_error FROM posts WHERE status = 'failed'")
    assert len(failed) == 2_500
    assert all(r["last_error"] == f"e{r['item_id']}" for r in failed)


def test_fts_search_treats_input_as_words_not_syntax(sample_store: Store) -> None:
    hits = q.search_practices(sample_store, 'incubator OR "  NEAR(')
    assert hits == []  # every word must match, quoted: no syntax error, no OR
    hits = q.search_practices(sample_store, "incubator")
    assert hits and all(
        "incubator" in (h["title"] + h["summary"] + h["body"]).lower() for h in hits
    )
    assert q.search_practices(sample_store, "plzen")  # diacritics folded: Plzeň


def test_write_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute("INSERT INTO themes (slug, name) VALUES ('a', 'A')")
        raise RuntimeError("boom")
    assert q.themes(store) == []


def _damage(path: Path) -> None:
    """Make a table's name in the schema invalid UTF-8, as a bad disk or a stray write can."""
    with Store(path) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    at = data.index(b"tablemigrationsmigrations") + len(b"table")
    data[at : at + 2] = b"\xff\xfe"
    path.write_bytes(bytes(data))


def test_a_damaged_store_says_so_and_a_backup_restores_over_it(
    sample_store: Store, invoke: Invoke
) -> None:
    path = sample_store.path
    assert invoke("backup", str(path.with_name("b.db"))).exit_code == 0
    sample_store.close()
    _damage(path)
    for command in (["queue", "list"], ["status"], ["backup", "--check", str(path)]):
        result = invoke(*command)
        assert result.exit_code == 1, result.output
        assert result.output.endswith(
            "damaged: its schema is not UTF-8 text; if it is the store, put a backup in its "
            "place: commsbot restore BACKUP\n"
        ), result.output
    damaged = path.read_bytes()
    result = invoke("restore", str(path.with_name("b.db")))
    assert result.exit_code == 0, result.output
    [aside] = path.parent.glob("commsbot.db.replaced-*[0-9]Z")
    assert aside.read_bytes() == damaged  # kept as it was, for whoever wants to look
    assert "44 practices" in invoke("backup", "--check", str(path)).output
    assert invoke("queue", "list").exit_code == 0
