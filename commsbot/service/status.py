"""What ``commsbot status`` shows, as plain data: the service and its lock holder, each
schedule's next and last run, the queue per channel and status, posts that need a
person, and each channel's state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from commsbot.alerts.problems import part_facts
from commsbot.clock import local_text
from commsbot.config import Config
from commsbot.errors import ConfigError
from commsbot.service.jobs import JOBS
from commsbot.service.lock import holder, lock_path
from commsbot.service.process import PARTS, SERVICE_LOCK
from commsbot.service.schedules import availability, load_schedules
from commsbot.slots import parse_slots
from commsbot.store import Store, from_iso
from commsbot.store import posts as posts_q
from commsbot.store import service as service_q

ATTENTION = ("unknown", "failed")
ATTENTION_LIMIT = 20


def health(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    """Whether the service runs, its schedules' last and next runs, and each channel's
    state: cheap reads only (the console's Today page shows these on every visit)."""
    lock = holder(config.store.path)
    serving = lock is not None and lock["what"] == SERVICE_LOCK  # not a run --once
    schedules, error = _schedules(store, config, running=serving)
    return {
        "service": (
            {"running": True, **lock} if lock else {"running": False, "pid": None, "since": None}
        ),
        "schedules": schedules,
        "schedule_error": error,
        "channels": _channels(store, config, now, running=serving),
        "failing_parts": failing_parts(store, config) if serving else [],
    }


def failing_parts(store: Store, config: Config) -> list[dict[str, Any]]:
    """The service's parts that cannot start (a bot whose token Telegram refuses, or which
    cannot reach Telegram): name, account, why, failing since, next try, what to check."""
    return [
        {**part_facts(config, part), "next_try": part["next_try"]}
        for part in service_q.failing_parts(store)
    ]


def gather(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    data = health(store, config, now)
    lock = holder(config.store.path)
    data["lock_file"] = str(lock_path(config.store.path))
    serving = lock is not None and lock["what"] == SERVICE_LOCK  # not a run --once
    data["parts"] = _parts(store, config, running=serving)
    data["queue"] = _queue(store)
    attention = list(ATTENTION) if lock else [*ATTENTION, "sending"]
    data["attention"] = [
        {k: p[k] for k in ("id", "channel", "status", "item_type", "item_ref", "last_error")}
        for status in attention
        for p in posts_q.list_posts(store, status=status, limit=ATTENTION_LIMIT)
    ] + _held(store, config, now)
    return data


def _held(store: Store, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Queued posts held past the longest back-off (recorded by a clock far ahead)."""
    longest = config.posting.retry_backoff_max_seconds
    return [
        {
            "id": p["id"],
            "channel": p["channel"],
            "status": "held",
            "item_type": p["item_type"],
            "item_ref": p["item_ref"],
            "last_error": (
                f"retry held until {local_text(p['next_attempt_at'], config.zone)}, longer "
                f"than the back-off allows ({longest} s); it is tried at the next run. "
                f"Last error: {p['last_error']}"
            ),
        }
        for p in posts_q.held_beyond(store, now + timedelta(seconds=longest), ATTENTION_LIMIT)
    ]


def _schedules(
    store: Store, config: Config, *, running: bool
) -> tuple[list[dict[str, Any]], str | None]:
    runs = service_q.last_runs(store)
    state = service_q.schedule_state(store) if running else {}
    rows: list[dict[str, Any]] = []
    error = None
    try:
        schedules = load_schedules(config)
    except ConfigError as exc:
        schedules, error = [], str(exc)
    named = set()
    for s in schedules:
        named.add(s.job)
        reason = availability(s, config, store)
        scheduled = state.get(s.name)
        if reason:
            shown = reason
        elif not running:
            shown = "service not running"
        else:
            shown = "scheduled" if scheduled else "not scheduled (see the service log)"
        rows.append(
            _with_runs(
                {
                    "schedule": s.name,
                    "job": s.job,
                    "when": s.describe(),
                    "state": shown,
                    "next_run": scheduled["next_run_at"] if scheduled else None,
                },
                runs.get(s.job),
            )
        )
    for job in JOBS:
        if job.name not in named:
            row = {"schedule": None, "job": job.name, "when": None, "next_run": None}
            row["state"] = "in no schedule (commsbot run --once runs it)"
            rows.append(_with_runs(row, runs.get(job.name)))
    return rows, error


def _with_runs(row: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    run = run or {}
    row["last_run"] = run.get("started_at")
    row["last_outcome"] = run.get("outcome") or ("running" if run else None)
    row["last_error"] = run.get("last_error")
    row["last_error_at"] = run.get("error_at")
    return row


def _parts(store: Store, config: Config, *, running: bool) -> list[dict[str, Any]]:
    """What each long-running part is doing, as the running service recorded it."""
    states = service_q.part_states(store) if running else {}
    rows = []
    for part in PARTS:
        reason = part.requires(config)
        if reason:
            rows.append({"part": part.name, "state": reason})
            continue
        for name, _ in part.copies(config):  # each bot on its own (#16)
            rows.append({"part": name, "state": _part_state(states.get(name), config, running)})
    return rows


def _part_state(state: dict[str, Any] | None, config: Config, running: bool) -> str:
    if not running:
        return "service not running"
    if state is None:
        return "starting"
    if state["state"] == "running":
        return f"running since {local_text(state['since'], config.zone)}"
    since = state["failing_since"] or state["since"]
    shown = f"failing since {local_text(since, config.zone)}: {state['detail']}"
    if state["next_try"]:
        shown += f"; next try at {local_text(state['next_try'], config.zone)}"
    return shown


def _queue(store: Store) -> list[dict[str, Any]]:
    """Posts per channel (rows) and status (columns)."""
    table: dict[str, dict[str, Any]] = {}
    for r in posts_q.status_counts(store):
        table.setdefault(r["channel"], {"channel": r["channel"]})[r["status"]] = r["posts"]
    present = [s for s in posts_q.STATUSES if any(s in row for row in table.values())]
    return [{"channel": c, **{s: row.get(s, 0) for s in present}} for c, row in table.items()]


def _channels(
    store: Store, config: Config, now: datetime, *, running: bool
) -> list[dict[str, Any]]:
    states = {s["channel"]: s for s in service_q.channel_states(store)}
    rows = []
    for name, settings in config.channels.items():
        state = states.get(name, {})
        paused = state.get("paused_until")
        if state.get("down_reason"):
            shown = f"down: {state['down_reason']}"
        elif running and settings.enabled and state.get("unopened"):
            # Only the running service knows: a stopped one's last word is not news.
            shown = f"not opened: {state['unopened']}; tried again before each job"
        elif paused and from_iso(paused) > now:
            shown = "paused"
        else:
            shown = "ok" if settings.enabled else "disabled"
        slots = parse_slots(settings.slots)
        rows.append(
            {
                "channel": name,
                "state": shown,
                "paused_until": paused if shown == "paused" else None,
                "slots": ", ".join(map(str, slots)) or "none (posts when due)",
            }
        )
    return rows
