"""Job schedules: ``schedules/*.toml`` says when the service runs each job.

Each table is one schedule, named by its header; it runs the job of that name unless
it names another with ``job``::

    [publish]
    every = "1m"            # or: cron = "0 9 * * mon-fri" (in the config's time zone)
    at_start = true         # also run once as soon as the service starts

Every mistake (unknown key, bad cron, bad interval, unknown job) is an error naming
the file and key, except for a schedule marked ``optional = true``: when this
commsbot has no such job, ``status`` reports it as not available.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commsbot.config import Config, packaged_path
from commsbot.errors import ConfigError
from commsbot.service.jobs import JOBS

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

# How late a run may start (the loop was busy) and still run; later runs are skipped,
# and several missed ones coalesce into one run.
DEFAULT_MISFIRE_GRACE_SECONDS = 300
KEYS = ("job", "cron", "every", "at_start", "misfire_grace_seconds", "enabled", "optional")
# ASCII only: \d and int() would take other scripts' digits (an Arabic-Indic five).
_EVERY_RE = re.compile(r"(?P<n>[0-9]+)\s*(?P<unit>s|m|h|d)", re.ASCII)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class Schedule:
    name: str
    job: str
    file: Path
    cron: str | None = None
    every: timedelta | None = None
    at_start: bool = False
    misfire_grace_seconds: int = DEFAULT_MISFIRE_GRACE_SECONDS
    enabled: bool = True
    optional: bool = False

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        assert self.every is not None
        seconds = int(self.every.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds % size == 0:
                return f"every {seconds // size}{unit}"
        return f"every {seconds}s"

    def trigger(self, config: Config) -> BaseTrigger:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron is not None:
            return CronTrigger.from_crontab(self.cron, timezone=config.zone)
        return IntervalTrigger(seconds=self.every.total_seconds(), timezone=config.zone)  # type: ignore[union-attr]


def folder(config: Config) -> Path:
    return config.service.schedules or packaged_path("schedules")


def load_schedules(config: Config) -> list[Schedule]:
    """Every schedule in the config's folder, validated; files in name order."""
    where = folder(config)
    if not where.is_dir():
        raise ConfigError(f"{config.file}: service.schedules: no folder {where}")
    found: dict[str, Schedule] = {}
    for path in sorted(where.glob("*.toml")):
        for schedule in _load_file(path, config):
            if schedule.name in found:
                raise ConfigError(
                    f"{path}: [{schedule.name}]: a schedule of that name is already in "
                    f"{found[schedule.name].file}"
                )
            found[schedule.name] = schedule
    return list(found.values())


def _load_file(path: Path, config: Config) -> list[Schedule]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    schedules = []
    for name, table in raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {name}: must be a table [{name}] of schedule keys")
        schedules.append(_schedule(path, name, table, config))
    return schedules


def _schedule(path: Path, name: str, table: dict[str, Any], config: Config) -> Schedule:
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{path}: {name}.{key}: {message}")

    for key in table:
        if key not in KEYS:
            raise fail(key, f"unknown key (known: {', '.join(KEYS)})")
    typed = {
        "job": str,
        "cron": str,
        "every": str,
        "at_start": bool,
        "misfire_grace_seconds": int,
        "enabled": bool,
        "optional": bool,
    }
    for key, kind in typed.items():
        value = table.get(key)
        if value is not None and (type(value) is not kind):
            raise fail(key, f"must be {'true or false' if kind is bool else 'a ' + kind.__name__}")
    if ("cron" in table) == ("every" in table):
        raise ConfigError(f'{path}: {name}: give exactly one of cron = "..." or every = "..."')
    job = table.get("job", name)
    optional = table.get("optional", False)
    if not optional and job not in {j.name for j in JOBS}:
        known = ", ".join(j.name for j in JOBS)
        if "job" in table:
            raise fail("job", f"unknown job {job!r} (known: {known})")
        raise ConfigError(
            f'{path}: [{name}]: there is no job {name!r}; name one with job = "..." '
            f"(known: {known})"
        )
    cron = table.get("cron")
    if cron is not None:
        _check_cron(cron, config, fail)
    every = None
    if "every" in table:
        match = _EVERY_RE.fullmatch(table["every"].strip())
        if match is None or int(match["n"]) == 0:
            raise fail(
                "every", f"{table['every']!r} is not an interval; write e.g. 30s, 5m, 2h or 1d"
            )
        every = timedelta(**{_UNITS[match["unit"]]: int(match["n"])})
    grace = table.get("misfire_grace_seconds", DEFAULT_MISFIRE_GRACE_SECONDS)
    if grace < 1:
        raise fail("misfire_grace_seconds", "must be 1 or more")
    return Schedule(
        name=name,
        job=job,
        file=path,
        cron=cron,
        every=every,
        at_start=table.get("at_start", False),
        misfire_grace_seconds=grace,
        enabled=table.get("enabled", True),
        optional=optional,
    )


def _check_cron(cron: str, config: Config, fail: Any) -> None:
    from apscheduler.triggers.cron import CronTrigger

    # APScheduler reads other scripts' digits as numbers (Arabic-Indic "0 9 * * *" runs).
    if not cron.isascii():
        raise fail("cron", f"{cron!r}: write a cron expression in ASCII digits and names")
    fields = cron.split()
    # APScheduler 3 numbers weekdays from Monday = 0, crontab from Sunday = 0: a number
    # would silently run on the wrong day, so only names are accepted.
    if len(fields) == 5 and re.search(r"[0-9]", fields[4]):
        raise fail(
            "cron",
            f"{cron!r}: write the day of the week as names (mon, tue, … or mon-fri), "
            "not numbers, which crontab and APScheduler read differently",
        )
    try:
        CronTrigger.from_crontab(cron, timezone=config.zone)
    except ValueError as exc:
        raise fail(
            "cron", f"{cron!r} is not a cron expression (minute hour day month day-of-week): {exc}"
        ) from None


def availability(schedule: Schedule, config: Config) -> str | None:
    """Why the service will not run this schedule, or None when it will."""
    if not schedule.enabled:
        return f"disabled (enabled = false in {schedule.file.name})"
    job = next((j for j in JOBS if j.name == schedule.job), None)
    if job is None:
        return f"not available: this commsbot has no job {schedule.job!r}"
    reason = job.requires(config)
    return f"not scheduled: {reason}" if reason else None
