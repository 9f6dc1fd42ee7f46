"""Keeping long-running parts (each Telegram bot, the web console) running: a part that
fails to start is tried again on its own, backing off, while the others carry on.

The service runs its parts through a ``Supervisor``; ``commsbot bot`` runs the bots
through one too (``run_until_stopped``), without the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from commsbot.clock import Clock, utcnow
from commsbot.config import ServiceConfig

log = logging.getLogger("commsbot.service")


class LongRunning(Protocol):
    """A part that runs beside the scheduler, e.g. one Telegram bot's polling."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# A part's state for status: (name, "running" or "failed", why, when the next try is).
Recorder = Callable[[str, str, str | None, datetime | None], None]
Starter = tuple[str, Callable[[], LongRunning]]


def _ignore(name: str, state: str, detail: str | None, next_try: datetime | None) -> None:
    """No record of parts' states (``commsbot bot``: status reads only the service's)."""


@dataclass
class Supervisor:
    """Starts parts, each a fresh instance per try; one that fails is started again on its
    own until it runs or ``stopping`` is set, waiting ``restart_seconds`` doubled per
    failure in a row up to ``restart_max_seconds``. ``stop()`` stops them in reverse order."""

    settings: ServiceConfig
    stopping: asyncio.Event
    clock: Clock = utcnow
    record: Recorder = _ignore
    # Why a part failed, in one line as it is logged and recorded: the service's takes
    # out the secrets its config names (a library may put a token in its error).
    describe: Callable[[Exception], str] = str
    # Called with each part that has started, at first or after its restarts.
    on_started: Callable[[str, LongRunning], None] | None = None
    running: list[tuple[str, LongRunning]] = field(default_factory=list)
    restarts: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, starters: Sequence[Starter]) -> list[Exception]:
        """Start each part in turn; the errors of those that failed, which are being retried."""
        errors: list[Exception] = []
        for starter in starters:
            error = await self._start(starter, failures=0)
            if error is not None:
                errors.append(error)
                self.restarts.add(asyncio.create_task(self._restart(starter)))
        return errors

    async def _start(self, starter: Starter, failures: int) -> Exception | None:
        """One try at starting a part (``failures`` tries failed before); None when it runs."""
        name, create = starter
        try:
            instance = create()
            await instance.start()
        except Exception as exc:  # the other parts go on without this one, tried again
            wait = self.wait(failures + 1)
            why = " ".join(self.describe(exc).split()) or type(exc).__name__
            log.error("%s failed to start: %s; trying again in %d s", name, why, wait)
            self.record(name, "failed", why, self.clock() + timedelta(seconds=wait))
            return exc
        self.running.append((name, instance))
        self.record(name, "running", None, None)
        log.info("%s started", name)
        if self.on_started is not None:
            self.on_started(name, instance)
        return None

    async def _restart(self, starter: Starter) -> None:
        """Start a failed part again, backing off, until it runs or the supervisor stops."""
        failures = 1
        while True:
            try:
                await asyncio.wait_for(self.stopping.wait(), self.wait(failures))
                return
            except TimeoutError:
                pass
            if await self._start(starter, failures) is None:
                return
            failures += 1

    def wait(self, failures: int) -> int:
        """Seconds before the next try after ``failures`` failed tries in a row."""
        wait: int = self.settings.restart_seconds * 2 ** min(failures - 1, 30)
        return min(wait, self.settings.restart_max_seconds)

    async def stop(self) -> None:
        """End the restarts, then stop the running parts in reverse order of their start."""
        for task in self.restarts:
            task.cancel()
        await asyncio.gather(*self.restarts, return_exceptions=True)
        self.restarts.clear()
        for name, instance in reversed(self.running):
            try:
                await instance.stop()
            except Exception as exc:
                log.error("%s failed to stop cleanly: %s", name, exc)
        self.running.clear()


async def run_until_stopped(
    settings: ServiceConfig,
    starters: Sequence[Starter],
    on_started: Callable[[str, LongRunning], None] | None = None,
) -> None:
    """Run the parts in this loop until SIGINT or SIGTERM (``commsbot bot``).

    When none of them starts at the first try, the first one's error is raised: a command
    that can do nothing says why and ends. Otherwise the failed ones are tried again.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor(settings, stop, on_started=on_started)
    try:
        errors = await supervisor.start(starters)
        if len(errors) == len(starters) and errors:
            raise errors[0]
        await stop.wait()
    finally:
        stop.set()
        await supervisor.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
