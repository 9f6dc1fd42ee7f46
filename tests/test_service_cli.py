"""The service's commands as the comms officer uses them: status, queue slots, pending,
add --next-slot, approve and cancel."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commsbot.cli import cli
from commsbot.config import load_config
from commsbot.content.items import load_sample
from commsbot.slots import between, parse_slots
from commsbot.store import Store, iso
from commsbot.store import service as service_q
from tests.support.base import NOW
from tests.support.service import write_config

Run = Callable[..., Result]


def runner_for(path: Path) -> Run:
    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(path), *args])

    return run


@pytest.fixture
def slotted(tmp_path: Path) -> Run:
    return runner_for(write_config(tmp_path, outbox='slots = ["Mon 10:00"]'))


def test_status_when_not_running(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    config = load_config(path)
    with Store(config.store.path) as store:
        load_sample(store, NOW)
        run_id = service_q.start_run(store, "publish", NOW)
        service_q.finish_run(store, run_id, NOW, "error", "outbox: disk full")
        run_id = service_q.start_run(store, "publish", NOW + timedelta(minutes=1))
        service_q.finish_run(store, run_id, NOW + timedelta(minutes=1), "new 1, sent 1")
        store.conn.execute(
            "INSERT INTO posts (item_type, item_id, item_ref, channel, status, not_before, "
            "last_error, idempotency_key, created_at, updated_at) VALUES ('practice', 1, 'p1', "
            "'outbox', 'unknown', ?, 'timed out', 'k1', ?, ?)",
            (iso(NOW), iso(NOW), iso(NOW)),
        )
    result = runner_for(path)("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["service"] == {"running": False, "pid": None, "since": None}
    publish = next(s for s in data["schedules"] if s["schedule"] == "publish")
    assert publish == {
        "schedule": "publish",
        "job": "publish",
        "when": "every 1m",
        "state": "service not running",
        "next_run": None,
        "last_run": "2026-11-23T13:01:00+01:00",  # in the service zone, with its offset
        "last_outcome": "new 1, sent 1",
        "last_error": "outbox: disk full",
        "last_error_at": "2026-11-23T13:00:00+01:00",
    }
    assert data["queue"] == [{"channel": "outbox", "unknown": 1}]
    assert data["attention"] == [
        {
            "id": 1,
            "channel": "outbox",
            "status": "unknown",
            "item_type": "practice",
            "item_ref": "p1",
            "last_error": "timed out",
        }
    ]
    assert data["channels"] == [
        {"channel": "outbox", "state": "ok", "paused_until": None, "slots": "none (posts when due)"}
    ]
    text = runner_for(path)("status")
    assert text.exit_code == 0, text.output
    assert text.output.startswith("service: not running (start it with: commsbot run)\n")
    assert "2026-11-23 13:01 CET" in text.output  # last run, in the config's zone
    assert "outbox: disk full" in text.output


def test_status_shows_a_paused_channel_and_a_bad_schedule(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "bad.toml").write_text('[publish]\nevery = "soon"\n')
    path = write_config(tmp_path, service='schedules = "schedules"')
    config = load_config(path)
    with Store(config.store.path) as store:
        from commsbot.store.engagement import set_channel_state

        set_channel_state(store, "outbox", NOW, paused_until=datetime.now(UTC) + timedelta(hours=1))
    result = runner_for(path)("status")
    assert result.exit_code == 0, result.output
    assert (
        f"schedules cannot be read: {tmp_path / 'schedules' / 'bad.toml'}: publish.every: "
        "'soon' is not an interval" in result.output
    )
    assert "outbox     paused until " in result.output


def test_queue_slots_calendar(slotted: Run, tmp_path: Path) -> None:
    added = slotted("queue", "add", "General meeting", "--next-slot")
    assert added.exit_code == 0, added.output
    before = datetime.now(UTC)
    result = slotted("queue", "slots", "--days", "28", "--format", "json")
    assert result.exit_code == 0, result.output
    calendar = json.loads(result.output)["outbox"]
    config = load_config(tmp_path / "commsbot.toml")
    expected = between(parse_slots(["Mon 10:00"]), config.zone, before, before + timedelta(days=28))
    zoned = [m.astimezone(config.zone).isoformat() for m in expected]
    assert [row["slot"] for row in calendar] == zoned
    assert calendar[0] == {
        "slot": zoned[0],
        "post": 1,
        "status": "queued",
        "item": "announcement announcement-1",
    }
    assert {row["status"] for row in calendar[1:]} == {"free"}
    when = expected[0].astimezone(config.zone).strftime("%Y-%m-%d %H:%M %Z")
    assert added.output == f"post 1 on outbox: queued for {when}\n"
    table = slotted("queue", "slots", "--days", "28")
    assert table.output.startswith(f"outbox: Mon 10:00 — next 28 days, {len(expected) - 1} free\n")


def test_queue_slots_without_slots(tmp_path: Path) -> None:
    result = runner_for(write_config(tmp_path))("queue", "slots")
    assert result.exit_code == 0, result.output
    assert result.output == "outbox: no slots; posts go out as soon as they are due\n"


def test_at_and_next_slot_exclude_each_other(slotted: Run) -> None:
    result = slotted("queue", "add", "Hi", "--next-slot", "--at", "2026-12-01 10:00")
    assert result.exit_code == 2
    assert "give one of --at, --next-slot, --first and --now" in result.output


def test_pending_approve_and_cancel(tmp_path: Path) -> None:
    run = runner_for(
        write_config(
            tmp_path, outbox='slots = ["daily 10:00"]', extra='[approval]\ndefault = "approve"'
        )
    )
    for text in ("One", "Two", "Three"):
        added = run("queue", "add", text, "--next-slot")
        assert added.output.endswith("on outbox: waiting for approval\n")
    pending = run("queue", "pending")
    assert pending.exit_code == 0, pending.output
    assert [line.split()[0] for line in pending.output.splitlines()[2:5]] == ["1", "2", "3"]
    assert "approval policy" in pending.output
    before = datetime.now(UTC)
    approved = run("queue", "approve", "1", "2")
    assert approved.exit_code == 0, approved.output
    config = load_config(tmp_path / "commsbot.toml")
    with Store(config.store.path) as store:
        rows = store.rows("SELECT not_before FROM posts WHERE status = 'queued' ORDER BY id")
    # Approved now, so each takes the next free daily slot from now on.
    slots = between(parse_slots(["daily 10:00"]), config.zone, before, before + timedelta(days=3))
    assert [r["not_before"] for r in rows] == [iso(slots[0]), iso(slots[1])]
    cancelled = run("queue", "cancel", "3")
    assert cancelled.output == "post 3 cancelled\n"
    again = run("queue", "approve", "3")
    assert again.exit_code == 1
    assert (
        "post 3 is cancelled; only a post that is pending_approval or draft can be approved"
        in again.output
    )
    assert run("queue", "pending").output == "(none)\n"


def test_run_with_a_bad_schedule_stops_with_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "mine.toml").write_text('[publish]\ncron = "0 9 * * 1-5"\n')
    path = write_config(tmp_path, service='schedules = "schedules"')
    result = runner_for(path)("run")
    assert result.exit_code == 2  # a config error (#20)
    assert result.output.startswith(
        f"Error: {tmp_path / 'schedules' / 'mine.toml'}: publish.cron: '0 9 * * 1-5': "
        "write the day of the week as names"
    )
    from commsbot.service.lock import holder

    assert holder(tmp_path / "commsbot.db") is None  # the lock was let go


def test_run_json_needs_once(tmp_path: Path) -> None:
    result = runner_for(write_config(tmp_path))("run", "--json")
    assert result.exit_code == 2
    assert "--json goes with --once" in result.output
