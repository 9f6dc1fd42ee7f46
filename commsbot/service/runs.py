"""Running jobs and recording each run in ``job_runs``, for the service and ``run --once``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from commsbot.clock import Clock, utcnow
from commsbot.config import Config
from commsbot.errors import CommsbotError
from commsbot.posting.pipeline import Summary, close_channels, open_channels
from commsbot.service.jobs import JOBS, Job, JobContext
from commsbot.store import Store
from commsbot.store import service as service_q

log = logging.getLogger("commsbot.jobs")


@runtime_checkable
class Describable(Protocol):
    def describe(self) -> str: ...


def describe(result: dict[str, Any]) -> str:
    """A job's result as one short line: "new 3, sent 3" or "fetched 2, new 1"."""
    parts = []
    for key, value in result.items():
        if isinstance(value, Describable):
            parts.append(value.describe())
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or "done"


def mark_interrupted(store: Store, config: Config, now: datetime) -> list[int]:
    """Holding the store lock, posts still ``sending`` were left by a process that is gone:
    they become ``unknown``, but for channels that recover their own (they can look)."""
    return service_q.mark_interrupted(
        store, now, service_q.LEFT_BY_CRASH, besides=config.enabled_channels
    )


async def execute(job: Job, ctx: JobContext) -> dict[str, Any]:
    """Run a job once, logging and recording how it went; its errors propagate."""
    try:
        run_id = service_q.start_run(ctx.store, job.name, ctx.clock())
    except Exception as exc:
        log.error("job %s not run: its start could not be recorded: %s", job.name, exc)
        raise
    started = time.monotonic()
    log.debug("job %s started", job.name)
    try:
        result = await job.load()(ctx)
    except asyncio.CancelledError:
        service_q.finish_run(ctx.store, run_id, ctx.clock(), "interrupted", "stopped by shutdown")
        log.warning("job %s interrupted by shutdown", job.name)
        raise
    except CommsbotError as exc:
        service_q.finish_run(ctx.store, run_id, ctx.clock(), "error", str(exc))
        log.error("job %s failed: %s", job.name, exc)
        raise
    except Exception as exc:
        service_q.finish_run(
            ctx.store, run_id, ctx.clock(), "error", f"{type(exc).__name__}: {exc}"
        )
        log.exception("job %s crashed", job.name)
        raise
    outcome = describe(result)
    service_q.finish_run(ctx.store, run_id, ctx.clock(), outcome)
    log.info("job %s done in %.2fs: %s", job.name, time.monotonic() - started, outcome)
    return result


async def run_once(
    store: Store,
    config: Config,
    *,
    clock: Clock = utcnow,
    progress: Callable[[int], None] | None = None,
) -> tuple[Summary, dict[str, dict[str, Any]]]:
    """Every job that the config allows, once, in order; returns publish's summary and
    each job's result (or the reason it was not run)."""
    problems: list[str] = []
    channels = await open_channels(config, problems)
    ctx = JobContext(store, config, clock, channels, progress)
    results: dict[str, dict[str, Any]] = {}
    summary = Summary(problems=problems)
    try:
        for job in JOBS:
            # Through the store open here: the check by the config alone opens it again.
            reason = job.unavailable(config, store)
            if reason:
                results[job.name] = {"skipped": reason}
                continue
            result = await execute(job, ctx)
            if isinstance(result.get("summary"), Summary):
                found = result.pop("summary")
                summary.planned += found.planned
                summary.held += found.held
                summary.outcomes.update(found.outcomes)
                summary.problems.extend(found.problems)
            results[job.name] = result
    finally:
        await close_channels(channels)
    return summary, results
