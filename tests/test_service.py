"""The service in-process: scheduling, parts, and shutdown with sends in flight.

A test channel registered like any other lets a test hold a send open and decide
when it ends; every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from commsbot.channels import REGISTRY
from commsbot.channels.base import Channel, ChannelSettings, Delivery, Rendered
from commsbot.config import Config
from commsbot.posting.pipeline import make_channels
from commsbot.posting.queue import announce
from commsbot.service.jobs import JobContext
from commsbot.service.process import Part, Service
from commsbot.store import Store
from commsbot.store import posts as posts_q
from commsbot.store import service as service_q
from tests.support.base import NOW
from tests.support.service import make_config, until, write_schedules

WAIT = 10  # seconds: the bound on every wait in these tests


@dataclass(frozen=True)
class SlowSettings(ChannelSettings):
    enabled: bool = True


class SlowChannel(Channel):
    """Each send waits until the test releases it."""

    kind = "slow"
    max_length = 500
    rate_per_second = 1000.0
    Settings: ClassVar[type[ChannelSettings]] = SlowSettings
    started: ClassVar[asyncio.Event]
    release: ClassVar[asyncio.Event]

    async def send(self, post: Rendered) -> Delivery:
        SlowChannel.started.set()
        await SlowChannel.release.wait()
        return Delivery.sent(post.post_id, f"slow-{post.post_id}")


@pytest.fixture
def slow_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setitem(REGISTRY, "slow", f"{__name__}:SlowChannel")
    folder = write_schedules(tmp_path / "schedules", '[publish]\nevery = "1h"\nat_start = true')
    path = tmp_path / "commsbot.toml"
    path.write_text(
        f'[store]\npath = "commsbot.db"\n[service]\nschedules = "{folder}"\n'
        "stop_grace_seconds = 5\n[channels.slow]\nenabled = true\n",
        encoding="utf-8",
    )
    from commsbot.config import load_config

    return load_config(path)


@pytest.fixture
def outbox_config(tmp_path: Path) -> Config:
    folder = write_schedules(tmp_path / "schedules", '[publish]\nevery = "1h"\nat_start = true')
    return make_config(tmp_path, service=f'schedules = "{folder}"')


def queue_announcements(config: Config, *texts: str) -> list[int]:
    with Store(config.store.path) as store:
        channels = make_channels(config)
        return [announce(store, config, channels, t, at=NOW)[0] for t in texts]


def read(config: Config, fn: Callable[[Store], Any]) -> Any:
    with Store(config.store.path) as store:
        return fn(store)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), WAIT * 2))


def test_publishes_at_start_records_the_run_and_stops_cleanly(outbox_config: Config) -> None:
    config = outbox_config
    [post_id] = queue_announcements(config, "General meeting in Vilnius")
    states: list[dict[str, Any]] = []

    async def scenario() -> None:
        service = Service(config, clock=lambda: NOW)
        task = asyncio.create_task(service.run())
        await until(
            lambda: read(config, lambda s: posts_q.get_post(s, post_id))["status"] == "sent"
        )
        states.append(read(config, service_q.schedule_state))
        assert service._running is not None
        [job] = service._running.scheduler.get_jobs()
        # Missed runs coalesce into one, never two at once, a grace time set explicitly.
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 300)
        service.stop()
        await task

    run(scenario)
    assert (config.channel("outbox").path / "outbox.jsonl").read_text().count("\n") == 1  # type: ignore[attr-defined]
    [state] = states[0].values()
    assert (state["schedule"], state["job"]) == ("publish", "publish")
    assert state["next_run_at"] > "2026"  # an hour after the start, in real time
    runs = read(config, lambda s: s.rows("SELECT job, outcome, error FROM job_runs"))
    assert runs == [{"job": "publish", "outcome": "new 0, sent 1", "error": None}]
    assert read(config, service_q.schedule_state) == {}  # emptied at stop


async def start_with_a_send_in_flight(config: Config) -> tuple[Service, asyncio.Task[None]]:
    """A running service whose first send to the slow channel has begun."""
    SlowChannel.started, SlowChannel.release = asyncio.Event(), asyncio.Event()
    service = Service(config, clock=lambda: NOW)
    task = asyncio.create_task(service.run())
    await asyncio.wait_for(SlowChannel.started.wait(), WAIT)
    return service, task


def test_a_send_in_flight_finishes_within_the_grace_period(slow_config: Config) -> None:
    config = slow_config
    [post_id] = queue_announcements(config, "Policy clinic")

    async def scenario() -> None:
        service, task = await start_with_a_send_in_flight(config)
        service.stop()
        await asyncio.sleep(0)  # the service is now waiting for the send
        assert not task.done()
        SlowChannel.release.set()
        await task

    run(scenario)
    post = read(config, lambda s: posts_q.get_post(s, post_id))
    assert (post["status"], post["remote_id"]) == ("sent", f"slow-{post_id}")
    runs = read(config, lambda s: s.rows("SELECT outcome, error FROM job_runs"))
    assert runs == [{"outcome": "new 0, sent 1", "error": None}]


def test_a_send_cut_off_is_recorded_unknown(slow_config: Config) -> None:
    config = slow_config
    first, second = queue_announcements(config, "Study visit", "Workshop")

    async def scenario() -> None:
        service, task = await start_with_a_send_in_flight(config)
        service.stop()
        service.stop()  # a second Ctrl-C: no grace period
        await task

    run(scenario)
    post = read(config, lambda s: posts_q.get_post(s, first))
    assert post["status"] == "unknown"
    assert post["last_error"] == service_q.INTERRUPTED
    # The second post was never claimed: still queued, no attempt used.
    later = read(config, lambda s: posts_q.get_post(s, second))
    assert (later["status"], later["attempts"]) == ("queued", 0)
    runs = read(config, lambda s: s.rows("SELECT outcome, error FROM job_runs"))
    assert runs == [{"outcome": "interrupted", "error": "stopped by shutdown"}]


class Recorder:
    def __init__(self, name: str, events: list[str], fail: bool = False) -> None:
        self.name, self.events, self.fail = name, events, fail

    async def start(self) -> None:
        if self.fail:
            raise RuntimeError("no token")
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


EVENTS: list[str] = []


def make_bot(ctx: JobContext) -> Recorder:
    assert ctx.store is not None
    return Recorder("bot", EVENTS)


def make_broken(ctx: JobContext) -> Recorder:
    return Recorder("broken", EVENTS, fail=True)


def make_other(ctx: JobContext) -> Recorder:
    return Recorder("other", EVENTS)


def test_parts_start_after_and_stop_before_the_scheduler(outbox_config: Config) -> None:
    EVENTS.clear()
    parts = (
        Part("bot", f"{__name__}:make_bot"),
        Part("broken", f"{__name__}:make_broken"),
        Part("unconfigured", f"{__name__}:make_bot", lambda config: "no bot token"),
        Part("other", f"{__name__}:make_other"),
    )

    async def scenario() -> None:
        service = Service(outbox_config, clock=lambda: NOW, parts=parts)
        task = asyncio.create_task(service.run())
        await until(lambda: len(EVENTS) == 2)
        service.stop()
        await task

    run(scenario)
    # The broken part is left out (logged); the others stop in reverse order.
    assert EVENTS == ["start bot", "start other", "stop other", "stop bot"]


def test_unavailable_jobs_and_failing_jobs_do_not_stop_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_schedules(
        tmp_path / "schedules",
        '[publish]\nevery = "1h"\nat_start = true\n'
        '[weekly-report]\njob = "no-such-job"\ncron = "0 9 * * mon"\noptional = true\n',
    )
    config = make_config(tmp_path, service=f'schedules = "{folder}"')
    calls: list[str] = []

    async def broken(ctx: JobContext) -> dict[str, Any]:
        calls.append("publish")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("commsbot.posting.pipeline.publish_job", broken)

    async def scenario() -> None:
        service = Service(config, clock=lambda: NOW)
        task = asyncio.create_task(service.run())
        await until(
            lambda: (
                read(
                    config,
                    lambda s: s.scalar(
                        "SELECT count(*) FROM job_runs WHERE finished_at IS NOT NULL"
                    ),
                )
                == 1
            )
        )
        state = read(config, service_q.schedule_state)
        assert list(state) == ["publish"]  # weekly-report's job is not available
        service.stop()
        await task

    run(scenario)
    assert calls == ["publish"]
    runs = read(config, lambda s: s.rows("SELECT job, outcome, error FROM job_runs"))
    assert runs == [{"job": "publish", "outcome": "error", "error": "RuntimeError: disk on fire"}]


def test_posts_left_sending_by_a_dead_process_become_unknown_at_start(
    outbox_config: Config,
) -> None:
    config = outbox_config
    first, second = queue_announcements(config, "Left sending", "Still queued")
    with Store(config.store.path) as store:
        store.conn.execute("UPDATE posts SET status = 'sending' WHERE id = ?", (first,))

    async def scenario() -> None:
        service = Service(config, clock=lambda: NOW)
        task = asyncio.create_task(service.run())
        await until(lambda: read(config, lambda s: posts_q.get_post(s, second))["status"] == "sent")
        service.stop()
        await task

    run(scenario)
    post = read(config, lambda s: posts_q.get_post(s, first))
    assert (post["status"], post["last_error"]) == ("unknown", service_q.LEFT_BY_CRASH)
