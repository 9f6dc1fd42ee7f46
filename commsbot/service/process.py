"""The long-running service: the job scheduler and the other long-running parts (the
Telegram bot) in one asyncio loop, over one store that this process holds the lock of.

The scheduler only decides *when* a job runs; the jobs are the same functions that
``commsbot run --once`` runs. On SIGTERM or Ctrl-C the service stops taking new runs,
lets running jobs finish their sends for ``service.stop_grace_seconds``, then stops
them: a post whose send was cut off is recorded ``unknown``, never left ``sending``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pkgutil
import signal
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commsbot.clock import Clock, utcnow
from commsbot.config import Config
from commsbot.deadline import abort_all
from commsbot.errors import CommsbotError
from commsbot.posting import dispatch, record
from commsbot.posting.pipeline import close_channels, open_channels, retry_policy
from commsbot.service.jobs import JOBS, JobContext
from commsbot.service.lock import StoreLock
from commsbot.service.logs import MaskSecrets, secret_values
from commsbot.service.runs import execute
from commsbot.service.schedules import (
    DEFAULT_MISFIRE_GRACE_SECONDS,
    Schedule,
    availability,
    load_schedules,
)
from commsbot.service.supervise import LongRunning, Starter, Supervisor
from commsbot.store import Store
from commsbot.store import service as service_q

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("commsbot.service")
# What the service writes in the store's lock file, so status can tell it from run --once.
SERVICE_LOCK = "commsbot run"


@dataclass(frozen=True)
class Part:
    """A long-running part, started after the scheduler and stopped before it."""

    name: str
    # "module:factory": factory(ctx: JobContext) -> LongRunning, or factory(ctx, one) for
    # each of ``each``'s names.
    target: str
    requires: Callable[[Config], str | None] = lambda config: None
    # Independent copies, one per name (one bot per Telegram token, #16): each starts,
    # fails and is restarted on its own, and status shows it as "name (one)".
    each: Callable[[Config], Sequence[str]] | None = None

    def copies(self, config: Config) -> list[tuple[str, str | None]]:
        """The names to start and show, each with its copy's own name (None: not copied)."""
        if self.each is None:
            return [(self.name, None)]
        return [(f"{self.name} ({one})", one) for one in self.each(config)]

    def create(self, ctx: JobContext, one: str | None = None) -> LongRunning:
        factory: Callable[..., LongRunning] = pkgutil.resolve_name(self.target)
        return factory(ctx) if one is None else factory(ctx, one)


# Long-running parts, in start order. A capability adds its part with one line, e.g.
#     Part("telegram-bot", "commsbot.bot.app:service_part", _needs_telegram_bot),
def _needs_telegram(config: Config) -> str | None:
    return None if config.enabled_accounts("telegram") else "the telegram channel is not enabled"


def _bots(config: Config) -> list[str]:
    from commsbot.channels.telegram import bot_accounts

    return bot_accounts(config)


PARTS: tuple[Part, ...] = (
    # The bots answer chat users in the same loop as the jobs (#5), one part per bot (#16).
    Part("telegram-bot", "commsbot.bot.app:bot_part", _needs_telegram, each=_bots),
)


@dataclass
class _Running:
    """What one service run holds, released in reverse order at shutdown."""

    ctx: JobContext
    scheduler: AsyncIOScheduler
    parts: Supervisor
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class Service:
    """``await Service(config).run()`` runs until ``stop()`` or a signal."""

    def __init__(
        self, config: Config, *, clock: Clock = utcnow, parts: tuple[Part, ...] | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.parts = PARTS if parts is None else parts
        self.schedules = load_schedules(config)  # a mistake stops the start, before anything
        self._stop = asyncio.Event()
        self._hurry = asyncio.Event()  # a second signal: stop without the grace period
        self._reopen = asyncio.Lock()
        self._running: _Running | None = None
        # Each part started by name: (the part it is a copy of, the copy's own name).
        self._copies: dict[str, tuple[str, str | None]] = {}

    def stop(self) -> None:
        """Ask the service to stop; a second call cuts the grace period short."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        store = Store(self.config.store.path)
        try:
            await self._serve(store)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            store.close()

    def _on_signal(self, sig: signal.Signals) -> None:
        log.warning(
            "%s received: %s", sig.name, "stopping now" if self._stop.is_set() else "stopping"
        )
        self.stop()

    async def _serve(self, store: Store) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        # Posts of enabled channels are recovered by their channel on its first dispatch.
        left = service_q.mark_interrupted(
            store, self.clock(), service_q.LEFT_BY_CRASH, besides=self.config.enabled_channels
        )
        if left:
            log.warning(
                "post(s) %s were left sending by a stopped process: recorded unknown",
                ", ".join(map(str, left)),
            )
        problems: list[str] = []
        failed: dict[str, str] = {}
        channels = await open_channels(self.config, problems, failed=failed)
        for problem in problems:
            log.error("channel not opened, retried before each job: %s", problem)
        self._keep_opening(store, failed, self.config.enabled_channels)
        ctx = JobContext(store, self.config, self.clock, channels)
        scheduler = AsyncIOScheduler(
            timezone=self.config.zone,
            job_defaults={
                # Runs missed while the loop was busy become one run, if not too late.
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": DEFAULT_MISFIRE_GRACE_SECONDS,
            },
        )
        masked = MaskSecrets(secret_values(self.config))
        supervisor = Supervisor(
            self.config.service,
            self._stop,
            self.clock,
            self._record_part,
            describe=lambda exc: masked.mask(str(exc)),
        )
        running = self._running = _Running(ctx, scheduler, supervisor)
        try:
            self._add_jobs(scheduler)
            scheduler.start()
            self._save_state()
            await self._start_parts(running)
            log.info(
                "service started: %d schedule(s), channels %s",
                len(scheduler.get_jobs()),
                ", ".join(channels) or "none",
            )
            await self._stop.wait()
            await self._shutdown(running)
        finally:
            if scheduler.running:
                scheduler.shutdown(wait=False)
            await close_channels(channels)
            service_q.set_schedule_state(store, [], self.clock())
            self._running = None
        log.info("service stopped")

    def _add_jobs(self, scheduler: AsyncIOScheduler) -> None:
        for schedule in self.schedules:
            reason = availability(schedule, self.config)
            if reason:
                # Expected for an optional job this installation lacks; a warning otherwise.
                level = logging.INFO if schedule.optional else logging.WARNING
                log.log(level, "schedule %s (job %s): %s", schedule.name, schedule.job, reason)
                continue
            scheduler.add_job(
                self._run_schedule,
                schedule.trigger(self.config),
                args=[schedule],
                id=schedule.name,
                name=schedule.job,
                misfire_grace_time=schedule.misfire_grace_seconds,
                # The first run at once, e.g. so that new content is posted at start.
                **({"next_run_time": datetime.now(self.config.zone)} if schedule.at_start else {}),
            )
            log.info("schedule %s: job %s, %s", schedule.name, schedule.job, schedule.describe())

    async def _run_schedule(self, schedule: Schedule) -> None:
        running = self._running
        if running is None or self._stop.is_set():
            return
        task = asyncio.current_task()
        assert task is not None
        running.tasks.add(task)
        try:
            self._save_state()
            await self._reopen_channels(running.ctx)
            job = next(j for j in JOBS if j.name == schedule.job)
            await execute(job, running.ctx)
        except Exception:
            pass  # execute logged it and recorded it in job_runs; the service carries on
        finally:
            running.tasks.discard(task)
            self._save_state()

    async def _reopen_channels(self, ctx: JobContext) -> None:
        """A channel that failed to open (a network blip at start) is tried again."""
        missing = [n for n in self.config.enabled_channels if n not in ctx.channels]
        if not missing:
            return
        async with self._reopen:
            problems: list[str] = []
            failed: dict[str, str] = {}
            reopened = await open_channels(self.config, problems, names=missing, failed=failed)
            ctx.channels.update(reopened)
            for name in reopened:
                log.info("channel %s opened", name)
            for problem in problems:
                log.error("channel still not opened: %s", problem)
            self._keep_opening(ctx.store, failed, missing)

    def _keep_opening(self, store: Store, failed: dict[str, str], tried: list[str]) -> None:
        """Which of the ``tried`` accounts did not open and why (no secret), for status
        and the console's Today page; the others are open."""
        masked = MaskSecrets(secret_values(self.config))
        try:
            record.opening(
                store,
                {name: masked.mask(reason) for name, reason in failed.items()},
                [name for name in tried if name not in failed],
                self.clock(),
            )
        except (CommsbotError, sqlite3.Error) as exc:  # only status is the poorer for it
            log.warning("could not record which accounts are open for status: %s", exc)

    async def _start_parts(self, running: _Running) -> None:
        starters: list[Starter] = []
        for part in self.parts:
            reason = part.requires(self.config)
            if reason:
                log.info("%s not started: %s", part.name, reason)
                continue
            for name, one in part.copies(self.config):
                self._copies[name] = (part.name, one)
                starters.append((name, functools.partial(part.create, running.ctx, one)))
        try:
            service_q.forget_parts(running.ctx.store, self._copies)
        except (CommsbotError, sqlite3.Error) as exc:  # only status is the poorer for it
            log.warning("could not forget the last run's parts for status: %s", exc)
        await running.parts.start(starters)

    def _record_part(
        self, name: str, state: str, detail: str | None, next_try: datetime | None
    ) -> None:
        """A part's state for ``commsbot status``, the console and alerts."""
        running = self._running
        if running is None:
            return
        kind, account = self._copies.get(name, (name, None))
        try:
            service_q.set_part_state(
                running.ctx.store,
                name,
                state,
                detail,
                self.clock(),
                kind=kind,
                account=account,
                next_try=next_try,
            )
        except (CommsbotError, sqlite3.Error) as exc:  # only status is the poorer for it
            log.warning("could not record the state of %s for status: %s", name, exc)

    async def _shutdown(self, running: _Running) -> None:
        running.scheduler.pause()
        await running.parts.stop()
        await self._drain(running.tasks)
        ctx = running.ctx
        for channel in ctx.channels.values():
            # A channel that can look its posts up queues them again; others say unknown.
            await dispatch.recover(
                ctx.store, channel, self.clock, retry_policy(ctx.config), service_q.INTERRUPTED
            )
        interrupted = service_q.mark_interrupted(
            running.ctx.store, self.clock(), service_q.INTERRUPTED
        )
        if interrupted:
            log.warning(
                "post(s) %s were being sent at shutdown: recorded unknown",
                ", ".join(map(str, interrupted)),
            )

    async def _drain(self, tasks: set[asyncio.Task[Any]]) -> None:
        """Let running jobs finish within the grace period, then cancel them."""
        pending = set(tasks)
        if not pending:
            return
        grace = self.config.service.stop_grace_seconds
        log.info("waiting up to %ss for %d running job(s)", grace, len(pending))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            while pending and not hurry.done() and loop.time() < deadline:
                done, _ = await asyncio.wait(
                    {*pending, hurry},
                    timeout=deadline - loop.time(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                pending -= done
        finally:
            hurry.cancel()
        for task in pending:
            task.cancel()
        # A cancelled task does not stop its worker thread: a fetch or a send in flight
        # would keep the process alive until its own total time. End them now; a post
        # left sending is resolved below (recover, or recorded unknown).
        ended = abort_all()
        if ended:
            log.info("ended %d network call(s) in flight", ended)
        await asyncio.gather(*pending, return_exceptions=True)

    def _save_state(self) -> None:
        """Each schedule's next run, for ``commsbot status`` in another process."""
        running = self._running
        if running is None:
            return
        rows = [
            {"schedule": j.id, "job": j.name, "next_run_at": j.next_run_time}
            for j in running.scheduler.get_jobs()
        ]
        try:
            service_q.set_schedule_state(running.ctx.store, rows, self.clock())
        except (CommsbotError, sqlite3.Error) as exc:  # only status is the poorer for it
            log.warning("could not record the next runs for status: %s", exc)


def run_service(config: Config, parts: tuple[Part, ...] | None = None) -> None:
    """Hold the store's lock and run the service in the foreground until stopped; the
    layers above add their own ``parts`` (the web console)."""
    with StoreLock(config.store.path, SERVICE_LOCK):

        async def main() -> None:
            await Service(config, parts=parts).run()

        asyncio.run(main())
