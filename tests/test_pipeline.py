"""The pipeline end to end on the outbox channel: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from commsbot.channels.outbox import OutboxChannel
from commsbot.config import Config
from commsbot.posting.dispatch import dispatch_channel
from commsbot.posting.pipeline import plan, retry_policy
from commsbot.render import Renderer
from commsbot.service.runs import run_once
from commsbot.store import Store
from commsbot.store import posts as posts_q
from tests.support.base import NOW, Invoke


def statuses(store: Store) -> dict[str, int]:
    return {r["status"]: r["posts"] for r in posts_q.status_counts(store)}


def test_run_once_posts_the_sample_to_the_outbox_once(
    sample_store: Store, config: Config, invoke: Invoke
) -> None:
    result = invoke("run", "--once")
    assert result.exit_code == 0, result.output
    assert "outbox        58        58" in result.output
    folder = config.store.path.parent / "outbox"
    files = sorted(p.name for p in folder.glob("*.txt"))
    assert len(files) == 58
    log = [json.loads(line) for line in (folder / "outbox.jsonl").read_text().splitlines()]
    assert len(log) == 58
    assert len({entry["idempotency_key"] for entry in log}) == 58
    assert statuses(sample_store) == {"sent": 58}

    again = invoke("run", "--once", "--json")
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["channels"] == [
        {"channel": "outbox", "new": 0, "posted": 0, "retrying": 0, "failed": 0, "unknown": 0}
    ]
    assert len(list(folder.glob("*.txt"))) == 58


def test_edited_item_is_not_posted_again(sample_store: Store, invoke: Invoke) -> None:
    assert invoke("run", "--once").exit_code == 0
    result = invoke("practices", "edit", "plzen-creative-voucher", "--summary", "Changed.")
    assert result.exit_code == 0, result.output
    again = json.loads(invoke("run", "--once", "--json").output)
    assert again["channels"][0]["posted"] == 0


def test_new_item_after_a_run_is_posted_on_the_next(sample_store: Store, invoke: Invoke) -> None:
    assert invoke("run", "--once").exit_code == 0
    invoke(
        "events",
        "add",
        "--title",
        "General Meeting 5",
        "--kind",
        "general-meeting",
        "--city",
        "vilnius",
        "--start-date",
        "2015-03-02",
    )
    data = json.loads(invoke("run", "--once", "--json").output)
    assert data["channels"][0]["posted"] == 1


def test_unwritable_outbox_retries_with_backoff_then_fails(
    sample_store: Store, config: Config
) -> None:
    folder = config.store.path.parent / "outbox"
    folder.write_text("a file where the folder should be")
    clock = [NOW]

    async def run() -> None:
        await run_once(sample_store, config, clock=lambda: clock[0])

    asyncio.run(run())
    assert statuses(sample_store) == {"queued": 58}  # waiting for their retry time
    # Three failures in a row stop the channel for this run: the rest are not tried.
    tried = sample_store.scalar("SELECT count(*) FROM posts WHERE attempts > 0")
    assert tried == 3
    first = posts_q.get_post(sample_store, 1)
    assert first is not None
    assert first["attempts"] == 1
    assert first["next_attempt_at"] == "2026-11-23T12:01:00Z"  # 60 s backoff
    assert "outbox" in first["last_error"]

    asyncio.run(run())  # not yet due: nothing attempted
    assert posts_q.get_post(sample_store, 1)["attempts"] == 1  # type: ignore[index]

    for minutes in (1, 3, 7, 15):  # 60, 120, 240, 480 s backoff
        clock[0] = NOW + timedelta(minutes=minutes, seconds=1)
        asyncio.run(run())
    post = posts_q.get_post(sample_store, 1)
    assert post is not None
    assert post["status"] == "failed"
    assert post["attempts"] == 5
    assert post["last_error"].startswith("gave up after 5 attempts: outbox")

    folder.unlink()  # the officer fixes the folder and retries one post
    result_store = sample_store
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import retry

    retry(result_store, config, make_channels(config)["outbox"], 1, clock[0])
    asyncio.run(run())
    assert posts_q.get_post(sample_store, 1)["status"] == "sent"  # type: ignore[index]
    # Post 1 was retried by hand; 2 and 3 gave up; the rest were never tried and go now.
    assert statuses(sample_store) == {"failed": 2, "sent": 56}


def test_template_error_is_recorded_not_dropped(
    sample_store: Store, config_path: Path, invoke: Invoke
) -> None:
    folder = config_path.parent / "tpl"
    folder.mkdir()
    (folder / "newsletter.j2").write_text("{{ item.missing }}")
    config_path.write_text(
        config_path.read_text().replace("[service]", '[service]\ntemplates = "tpl"')
    )
    result = invoke("run", "--once")
    assert result.exit_code == 1, result.output  # recorded, and needs attention (#20)
    assert "problem: template newsletter.j2 for newsletter 'newsletter-1'" in result.output
    failed = posts_q.list_posts(sample_store, status="failed")
    assert [p["item_ref"] for p in failed] == ["newsletter-1", "newsletter-2"]
    assert statuses(sample_store) == {"failed": 2, "sent": 56}


def test_outbox_log_is_on_disk_for_each_batch_before_the_batch_is_recorded(
    sample_store: Store, config: Config
) -> None:
    seen: list[tuple[int, dict[str, int]]] = []

    class Watched(OutboxChannel):
        batch_size = 20

        async def flush(self) -> None:
            await super().flush()
            lines = (self.folder / "outbox.jsonl").read_text().count("\n")
            seen.append((lines, statuses(sample_store)))

    channel = Watched(config.channel("outbox"), "outbox")
    plan(sample_store, config, Renderer(config.service.templates), {"outbox": channel}, NOW)

    async def send_all() -> None:
        try:
            await dispatch_channel(sample_store, channel, lambda: NOW, retry_policy(config))
        finally:
            await channel.close()

    asyncio.run(send_all())
    # Every batch's lines are written while its posts are still ``sending``.
    assert [lines for lines, _ in seen] == [20, 40, 58]
    assert [counts.get("sending") for _, counts in seen] == [20, 20, 18]
    assert statuses(sample_store) == {"sent": 58}
