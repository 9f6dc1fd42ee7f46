"""Store safety: backups taken while the service posts, a restore that posts nothing twice,
and a store left by a killed process that opens cleanly (SQLite's WAL recovery)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.service import backups
from commsbot.store import Store
from commsbot.store import backup as backup_q
from tests.support.mastodon import MockMastodon
from tests.support.reliability import (
    TOKEN_ENV,
    FaultProxy,
    ServiceProcess,
    count_by_status,
    published_items,
    rows,
    wait_for,
    write_config,
    write_items,
)

ITEMS = 30  # more than one claim of 20: the second batch is on its way at the backup


@pytest.fixture
def slow_mastodon(mastodon: MockMastodon) -> Iterator[FaultProxy]:
    proxy = FaultProxy(mastodon.port, delay=(0.05, 0.08)).start()
    yield proxy
    proxy.stop()


def commsbot(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_backups_while_the_service_posts_and_a_restore_that_posts_nothing_twice(
    tmp_path: Path,
    mastodon: MockMastodon,
    slow_mastodon: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, token = mastodon.new_account()
    monkeypatch.setenv(TOKEN_ENV, token)
    config = write_config(tmp_path, slow_mastodon.base_url)
    imported = commsbot(config, "content", "import", str(write_items(tmp_path, ITEMS)))
    assert imported.exit_code == 0, imported.output
    db = tmp_path / "commsbot.db"
    service = ServiceProcess(config, tmp_path / "service.log", {TOKEN_ENV: token})
    try:
        wait_for(lambda: count_by_status(db, "mastodon").get("sent", 0) >= 20, "a batch", 60)
        # The next status held on its way: the backup has posts in `sending`.
        slow_mastodon.pause()
        wait_for(lambda: count_by_status(db, "mastodon").get("sending"), "a post held", 60)
        first = commsbot(config, "backup", str(tmp_path / "first.db"))
        slow_mastodon.resume()
        second = commsbot(config, "backup", str(tmp_path / "second.db"))  # while it posts
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        early = backups.check(tmp_path / "first.db")
        later = backups.check(tmp_path / "second.db")
        # Refused while the service runs, naming it; the store is untouched.
        refused = commsbot(config, "restore", str(tmp_path / "first.db"))
        wait_for(lambda: count_by_status(db, "mastodon") == {"sent": ITEMS}, "all sent", 60)
        assert service.alive(), service.text()
        assert service.terminate() == 0
    finally:
        service.kill()
    assert first.output == f"backup written: {early.describe()}\n"
    assert re.fullmatch(
        rf"backup written: {tmp_path}/first\.db: [\d,]+ bytes, schema \d+, made "
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, integrity ok; 30 posts, 30 practices, 0 events, "
        r"0 newsletters, 0 news, 0 subscribers; images: 0 present, 0 missing\n",
        first.output,
    ), first.output
    assert (early.summary.integrity, later.summary.integrity) == ("ok", "ok")
    assert count_by_status(tmp_path / "first.db", "mastodon") == {"sent": 20, "sending": 10}
    assert later.summary.counts["posts"] == ITEMS
    assert sent_in(tmp_path / "second.db") >= 20
    sent_early = 20
    assert refused.exit_code == 1
    assert f"the store is in use by commsbot PID {service.proc.pid}" in refused.output
    assert count_by_status(db, "mastodon") == {"sent": ITEMS}

    checked = commsbot(config, "backup", "--check", str(tmp_path / "first.db"))
    assert checked.output == f"backup ok: {early.describe()}\n"
    restored = commsbot(config, "restore", str(tmp_path / "first.db"))
    assert restored.exit_code == 0, restored.output
    lines = restored.output.splitlines()
    assert lines[0] == f"restored {early.summary.describe()}"
    assert lines[1] == "images restored: 0 copied, 0 in place"
    [aside] = tmp_path.glob("commsbot.db.replaced-*")
    assert lines[2] == f"the replaced store is kept as {aside}"
    held = ITEMS - sent_early
    assert lines[3].startswith(f"{held} post(s) due before the restore wait for approval")
    # The store is the backup again, the replaced one is whole, and nothing is re-sent:
    # what may have gone out after the backup waits in `queue pending`, with the reason.
    assert count_by_status(db, "mastodon") == {"sent": sent_early, "pending_approval": held}
    assert backup_q.check(aside).counts["posts"] == ITEMS
    assert count_by_status(aside, "mastodon") == {"sent": ITEMS}
    reasons = rows(db, "SELECT DISTINCT last_error FROM posts WHERE status = 'pending_approval'")
    assert reasons == [
        {
            "last_error": "restored from the backup first.db: it may have been sent after the "
            "backup was made; check the channel, then queue approve or queue cancel"
        }
    ]
    once = commsbot(config, "run", "--once")
    assert once.exit_code == 0, once.output
    assert "problem" not in once.output  # Mastodon was reached, and posted nothing
    assert published_items(mastodon, token) == {i: 1 for i in range(ITEMS)}
    # Approved, a held post is sent with its key: the server gives back the status it has.
    post_id = rows(db, "SELECT min(id) AS id FROM posts WHERE status = 'pending_approval'")[0]
    approved = commsbot(config, "queue", "approve", str(post_id["id"]))
    assert approved.exit_code == 0, approved.output
    assert commsbot(config, "run", "--once").exit_code == 0
    assert published_items(mastodon, token) == {i: 1 for i in range(ITEMS)}
    assert count_by_status(db, "mastodon")["sent"] == sent_early + 1
    with Store(db) as store:
        assert store.integrity() == "ok"


def sent_in(path: Path) -> int:
    return count_by_status(path, "mastodon").get("sent", 0)


# A process that commits announcements, starts one more transaction and is killed inside it.
KILLED_WRITER = """
import os, signal, sys
from datetime import UTC, datetime
from commsbot.store import Store
from commsbot.store import posts as posts_q

store = Store(sys.argv[1])
store.conn.execute("PRAGMA wal_autocheckpoint = 0")  # everything stays in the -wal file
for n in range(50):
    posts_q.insert_announcement(store, f"committed {n}", None, "announcement", datetime.now(UTC))
store.conn.execute("BEGIN IMMEDIATE")
store.conn.execute(
    "INSERT INTO announcements (text, template, created_at) VALUES ('never committed', 'x', 'x')"
)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_store_left_by_a_killed_process_opens_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "commsbot.toml"
    config.write_text('[store]\npath = "commsbot.db"\n[channels.outbox]\nenabled = true\n')
    assert commsbot(config, "init", "--sample").exit_code == 0
    db = tmp_path / "commsbot.db"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    wal = db.with_name("commsbot.db-wal")
    assert wal.stat().st_size > 0  # the committed rows are only in the WAL
    assert os.path.getsize(db) > 0

    listed = commsbot(config, "status")
    assert listed.exit_code == 0, listed.output
    with Store(db) as store:
        texts = [r["text"] for r in store.rows("SELECT text FROM announcements ORDER BY id")]
        assert store.integrity() == "ok"
    assert texts == [f"committed {n}" for n in range(50)]
    written = commsbot(config, "backup", str(tmp_path / "after-crash.db"))
    assert written.exit_code == 0, written.output
    assert backup_q.check(tmp_path / "after-crash.db").integrity == "ok"
