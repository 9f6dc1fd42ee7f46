"""Schedules: the packaged file loads, and every mistake names the file and key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commsbot.config import Config
from commsbot.errors import ConfigError
from commsbot.service.jobs import JOBS
from commsbot.service.schedules import availability, load_schedules
from tests.support.service import make_config, write_schedules


def config_with(tmp_path: Path, text: str, extra: str = "") -> Config:
    folder = write_schedules(tmp_path / "schedules", text)
    return make_config(tmp_path, extra=extra, service=f'schedules = "{folder}"')


def test_packaged_default_schedule(config: Config) -> None:
    schedules = {s.name: s for s in load_schedules(config)}
    assert list(schedules) == [
        "publish",
        "ingest-feeds",
        "collect-engagement",
        "send-digests",
        "snapshot-audience",
        "track-movement",
        "send-alerts",
    ]
    publish = schedules["publish"]
    assert (publish.job, publish.every, publish.at_start) == ("publish", timedelta(minutes=1), True)
    assert availability(publish, config) is None
    # Jobs of other capabilities are optional: reported when this build lacks them.
    optional = ("ingest-feeds", "collect-engagement", "send-digests")
    for name in (*optional, "snapshot-audience", "track-movement", "send-alerts"):
        schedule = schedules[name]
        assert (schedule.job, schedule.optional) == (name, True)
        job = next((j for j in JOBS if j.name == name), None)
        if job is None:
            expected: str | None = f"not available: this commsbot has no job {name!r}"
        else:
            reason = job.requires(config)
            expected = f"not scheduled: {reason}" if reason else None
        assert availability(schedule, config) == expected


def test_interval_and_cron_triggers(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        """
[publish]
every = "90s"

[publish-mornings]
job = "publish"
cron = "30 9 * * mon-fri"
misfire_grace_seconds = 60
""",
    )
    every, mornings = load_schedules(config)
    assert every.describe() == "every 90s"
    assert mornings.describe() == "cron 30 9 * * mon-fri"
    assert mornings.misfire_grace_seconds == 60
    start = datetime(2026, 11, 21, 12, tzinfo=UTC)  # a Saturday
    fire = mornings.trigger(config).get_next_fire_time(None, start)
    # Monday 09:30 in Brussels (CET) is 08:30 UTC.
    assert fire == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    fire = every.trigger(config).get_next_fire_time(start, start)
    assert fire == start + timedelta(seconds=90)


def test_missing_job_unless_optional(tmp_path: Path) -> None:
    config = config_with(
        tmp_path, '[send-weekly]\njob = "send-digests-x"\ncron = "0 9 * * mon"\noptional = true'
    )
    [schedule] = load_schedules(config)
    assert (
        availability(schedule, config) == "not available: this commsbot has no job 'send-digests-x'"
    )


def test_disabled_schedule(tmp_path: Path) -> None:
    config = config_with(tmp_path, '[publish]\nevery = "1m"\nenabled = false')
    [schedule] = load_schedules(config)
    assert availability(schedule, config) == "disabled (enabled = false in test.toml)"


def test_job_whose_feature_is_not_configured(tmp_path: Path) -> None:
    folder = write_schedules(tmp_path / "schedules", '[publish]\nevery = "1m"')
    path = tmp_path / "commsbot.toml"
    path.write_text(
        f'[service]\nschedules = "{folder}"\n[channels.outbox]\nenabled = false\n', encoding="utf-8"
    )
    from commsbot.config import load_config

    config = load_config(path)
    [schedule] = load_schedules(config)
    assert availability(schedule, config) == "not scheduled: no channel is enabled"


ARABIC_FIVE = "\u0665"
FULLWIDTH_FIVE = "\uff15"
ARABIC_CRON = "\u0660 \u0669 * * *"  # "0 9 * * *" in Arabic-Indic digits


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[publish]\nevery = "1m"\nat_startup = true',
            "publish.at_startup: unknown key (known: job,",
        ),
        ('[publish]\ncron = "0 25 * * *"', "publish.cron: '0 25 * * *' is not a cron expression"),
        ('[publish]\ncron = "0 9 * *"', "publish.cron: '0 9 * *' is not a cron expression"),
        (
            '[publish]\ncron = "0 9 * * 1"',
            "publish.cron: '0 9 * * 1': write the day of the week as names (mon, tue, …",
        ),
        (
            '[publish]\nevery = "1 minute"',
            "publish.every: '1 minute' is not an interval; write e.g.",
        ),
        ('[publish]\nevery = "0s"', "publish.every: '0s' is not an interval"),
        # Other scripts' digits (Arabic-Indic, fullwidth) are no numbers here.
        (
            f'[publish]\nevery = "{ARABIC_FIVE}m"',
            f"publish.every: '{ARABIC_FIVE}m' is not an interval",
        ),
        (
            f'[publish]\nevery = "{FULLWIDTH_FIVE}s"',
            f"publish.every: '{FULLWIDTH_FIVE}s' is not an interval",
        ),
        (
            f'[publish]\ncron = "{ARABIC_CRON}"',
            f"publish.cron: '{ARABIC_CRON}': write a cron expression in ASCII digits and names",
        ),
        ("[publish]\nevery = 60", "publish.every: must be a str"),
        ('[publish]\nevery = "1m"\nat_start = "yes"', "publish.at_start: must be true or false"),
        ("[publish]\nenabled = true", 'publish: give exactly one of cron = "..." or every = "..."'),
        ('[publish]\nevery = "1m"\ncron = "* * * * *"', "publish: give exactly one of"),
        ('[publsh]\nevery = "1m"', "[publsh]: there is no job 'publsh'; name one with job ="),
        ('[x]\njob = "publsh"\nevery = "1m"', "x.job: unknown job 'publsh' (known: "),
        (
            '[publish]\nevery = "1m"\nmisfire_grace_seconds = 0',
            "publish.misfire_grace_seconds: must be 1",
        ),
        ('publish = "every minute"', "publish: must be a table [publish] of schedule keys"),
        ("[publish\nevery = 1", "invalid TOML"),
    ],
)
def test_mistakes_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    config = config_with(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_schedules(config)
    assert str(exc.value).startswith(f"{tmp_path / 'schedules' / 'test.toml'}: {message}")


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    folder = write_schedules(tmp_path / "schedules", '[publish]\nevery = "1m"', "a.toml")
    write_schedules(folder, '[publish]\nevery = "5m"', "b.toml")
    config = make_config(tmp_path, service=f'schedules = "{folder}"')
    with pytest.raises(ConfigError) as exc:
        load_schedules(config)
    assert str(exc.value) == (
        f"{folder / 'b.toml'}: [publish]: a schedule of that name is already in {folder / 'a.toml'}"
    )


def test_missing_folder(tmp_path: Path) -> None:
    config = make_config(tmp_path, service='schedules = "nowhere"')
    with pytest.raises(ConfigError) as exc:
        load_schedules(config)
    assert str(exc.value) == (
        f"{tmp_path / 'commsbot.toml'}: service.schedules: no folder {tmp_path / 'nowhere'}"
    )
