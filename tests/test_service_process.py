"""``commsbot run`` as a real process on a temporary store, with a schedule of seconds.

The test polls files and the store with a bounded wait; the service is always
stopped (SIGTERM, then SIGKILL if it would not stop) before the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.config import Config, load_config
from commsbot.content.items import load_sample
from commsbot.posting.pipeline import make_channels
from commsbot.posting.queue import announce
from commsbot.service.lock import holder
from commsbot.slots import DAYS
from commsbot.store import Store, iso
from tests.support.service import write_config, write_schedules

WAIT = 30.0  # seconds: the bound on every wait; a healthy run takes a fraction of it
SCHEDULE = '[publish]\nevery = "2s"\nat_start = true\n'


class Running:
    """A service process and its log file."""

    def __init__(self, config_path: Path, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "commsbot", "--config", str(config_path), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("w"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)


@pytest.fixture
def service_dir(tmp_path: Path) -> Path:
    write_schedules(tmp_path / "schedules", SCHEDULE)
    return tmp_path


@pytest.fixture
def start(service_dir: Path) -> Iterator[Callable[[], Running]]:
    started: list[Running] = []

    def run() -> Running:
        running = Running(service_dir / "commsbot.toml", service_dir / f"service{len(started)}.log")
        started.append(running)
        return running

    yield run
    for running in started:
        running.kill()


def configure(folder: Path, outbox: str = "") -> Config:
    path = write_config(folder, outbox=outbox, service='schedules = "schedules"')
    config = load_config(path)
    with Store(config.store.path) as store:
        load_sample(store, datetime.now(UTC))
    return config


def wait_for(check: Callable[[], Any], what: str, running: Running) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if running.proc.poll() is not None:
            raise AssertionError(
                f"service exited ({running.proc.returncode}) waiting for {what}:\n"
                + "\n".join(running.lines())
            )
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {WAIT}s:\n" + "\n".join(running.lines()))


def outbox_lines(folder: Path) -> list[dict[str, Any]]:
    log = folder / "outbox" / "outbox.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def query(config: Config, sql: str) -> list[dict[str, Any]]:
    with Store(config.store.path) as store:
        return store.rows(sql)


def test_posts_what_is_due_refuses_a_second_instance_and_stops_on_sigterm(
    service_dir: Path, start: Callable[[], Running]
) -> None:
    config = configure(service_dir)
    running = start()
    # The sample is posted as soon as the service starts.
    wait_for(lambda: len(outbox_lines(service_dir)) == 58, "58 sample posts", running)

    second = subprocess.run(
        [sys.executable, "-m", "commsbot", "--config", str(service_dir / "commsbot.toml"), "run"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert second.returncode == 1
    assert f"the store is in use by commsbot PID {running.proc.pid} (commsbot run since" in (
        second.stderr
    )
    assert "Traceback" not in second.stderr

    # Queued while the service runs: a later scheduled run posts it.
    with Store(config.store.path) as store:
        [post_id] = announce(
            store, config, make_channels(config), "Final conference", at=datetime.now(UTC)
        )
    posted = wait_for(
        lambda: [line for line in outbox_lines(service_dir) if line["post_id"] == post_id],
        "the announcement",
        running,
    )
    assert posted[0]["text"] == "Final conference"

    status = CliRunner().invoke(
        cli, ["--config", str(service_dir / "commsbot.toml"), "status", "--json"]
    )
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert (data["service"]["running"], data["service"]["pid"]) == (True, running.proc.pid)
    publish = next(s for s in data["schedules"] if s["schedule"] == "publish")
    assert (publish["state"], publish["when"]) == ("scheduled", "every 2s")
    assert publish["next_run"] is not None
    assert data["queue"] == [{"channel": "outbox", "sent": 59}]

    assert running.terminate() == 0
    lines = running.lines()
    assert any(line.endswith("SIGTERM received: stopping") for line in lines)
    assert lines[-1].endswith("INFO commsbot.service: service stopped")
    assert holder(config.store.path) is None
    assert query(config, "SELECT count(*) AS n FROM schedule_state") == [{"n": 0}]
    runs = query(config, "SELECT outcome FROM job_runs ORDER BY id")
    assert runs[0] == {"outcome": "new 58, sent 58"}
    assert all(r["outcome"] for r in runs)  # every run finished and was recorded


def test_respects_slots(service_dir: Path, start: Callable[[], Running]) -> None:
    # A weekly slot three days ahead: nothing of the sample may go out during the test.
    local = (datetime.now(UTC) + timedelta(days=3)).astimezone(
        load_config(write_config(service_dir)).zone
    )
    slot = f"{DAYS[local.weekday()].title()} {local:%H:%M}"
    config = configure(service_dir, outbox=f'slots = ["{slot}"]')
    with Store(config.store.path) as store:
        [due] = announce(store, config, make_channels(config), "Due now", at=datetime.now(UTC))
    running = start()
    wait_for(
        lambda: query(config, "SELECT outcome FROM job_runs WHERE outcome IS NOT NULL"),
        "the first publish run",
        running,
    )
    assert [line["post_id"] for line in outbox_lines(service_dir)] == [due]
    queued = query(config, "SELECT not_before FROM posts WHERE status = 'queued' ORDER BY id")
    assert len(queued) == 58
    first = local.replace(second=0, microsecond=0)
    weekly = [iso(first + timedelta(days=7 * i)) for i in range(3)]
    assert [r["not_before"] for r in queued[:3]] == weekly
    assert running.terminate() == 0


def test_sigterm_mid_send_lets_the_send_finish_and_leaves_nothing_half_written(
    service_dir: Path, start: Callable[[], Running]
) -> None:
    config = configure(service_dir)
    with Store(config.store.path) as store:
        slug = store.scalar("SELECT slug FROM practices WHERE id = 30")
    # Post 30's file is a named pipe: its send blocks until the test reads it, so the
    # SIGTERM arrives while a send is in flight, whatever the machine's speed.
    (service_dir / "outbox").mkdir()
    fifo = service_dir / "outbox" / f"000030-practice-{slug}.txt"
    os.mkfifo(fifo)
    running = start()
    wait_for(
        lambda: list((service_dir / "outbox").glob("000029-*.txt")), "posts before 30", running
    )
    running.proc.send_signal(signal.SIGTERM)
    sent_text = read_fifo(fifo, running)
    assert running.proc.wait(timeout=WAIT) == 0
    lines = running.lines()
    assert any(line.endswith("SIGTERM received: stopping") for line in lines)
    assert lines[-1].endswith("INFO commsbot.service: service stopped")
    with Store(config.store.path) as store:
        post = store.row("SELECT text, status FROM posts WHERE id = 30")
        assert post is not None
        assert sent_text == post["text"] + "\n"
        assert store.rows("SELECT status, count(*) AS n FROM posts GROUP BY status") == [
            {"status": "sent", "n": 58}
        ]
        assert store.rows("SELECT outcome, error FROM job_runs") == [
            {"outcome": "new 58, sent 58", "error": None}
        ]
        assert store.integrity() == "ok"
    assert [line["post_id"] for line in outbox_lines(service_dir)] == list(range(1, 59))


def read_fifo(fifo: Path, running: Running) -> str:
    """Everything the service writes into the pipe, once it has opened and closed it."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    deadline = time.monotonic() + WAIT
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:  # the writer is there, its data not yet
                chunk = None
            if chunk:
                data += chunk
            elif chunk == b"" and data:  # written and closed
                return data.decode("utf-8")
            time.sleep(0.02)
    finally:
        os.close(fd)
    raise AssertionError("the service never wrote post 30:\n" + "\n".join(running.lines()))


def stop_once(
    running: Running, ready: Callable[[], Any], what: str, settle: float = 0.0
) -> tuple[int, float]:
    """SIGTERM once ``ready()`` holds (and ``settle`` seconds more): the exit code and the
    seconds from the signal to the exit; the process is killed if it outlives the wait."""
    try:
        wait_for(ready, what, running)
        time.sleep(settle)
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        code = running.proc.wait(timeout=WAIT)
        return code, time.monotonic() - started
    finally:
        running.kill()


def test_a_stop_ends_the_process_within_the_grace_period_while_a_feed_trickles(
    tmp_path: Path,
) -> None:
    """A feed sending its headers a byte at a time (#13): the ingest run is cut off at the
    stop, and the process ends within ``stop_grace_seconds``, not at the fetch's own
    total time (five minutes here)."""
    from tests.support.feeds import feed_server, item, rss

    write_schedules(tmp_path / "schedules", '[ingest-feeds]\nevery = "1h"\nat_start = true\n')
    with feed_server() as server:
        url = server.set("/slow", rss([item("Slow")]), trickle_headers=0.5)
        path = write_config(
            tmp_path,
            service='schedules = "schedules"\nstop_grace_seconds = 1',
            extra=(
                "[ingest]\ntotal_timeout = 300\nread_timeout = 60\n"
                f'allow_private_hosts = ["127.0.0.1"]\n\n[[feeds]]\nurl = "{url}"\n'
            ),
        )
        running = Running(path, tmp_path / "service.log")
        code, took = stop_once(running, lambda: server.requests_to("/slow"), "the feed request")

    assert code == 0, "\n".join(running.lines())
    assert took < 10, f"took {took:.1f} s to stop:\n" + "\n".join(running.lines())
    assert any("ended 1 network call(s) in flight" in line for line in running.lines())


def test_a_stop_ends_the_process_within_the_grace_period_while_a_send_is_stuck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Mastodon server that made the status, then trickles its answer's headers a byte
    every 2 s (#13): SIGTERM ends the process within ``stop_grace_seconds`` although the
    send's own total time is ten minutes away, and the next start publishes the post
    once, not twice (the same Idempotency-Key gets the status already made)."""
    from tests.support.mastodon import MisbehavingProxy, MockMastodon
    from tests.test_mastodon import add_practice, reference

    token_env = "COMMSBOT_TEST_STOP_MASTODON_TOKEN"
    command = (sys.executable, "-m", "commsbot", "--config")
    grace = 2
    write_schedules(tmp_path / "schedules", '[publish]\nevery = "1h"\nat_start = true\n')
    mock = MockMastodon(tmp_path).start()
    proxy = MisbehavingProxy(
        mock.port, lambda m, p: (m, p) == ("POST", "/api/v1/statuses"), "slow-headers", 2.0
    ).start()
    try:
        _, token = mock.new_account()
        monkeypatch.setenv(token_env, token)

        def configure_through(base_url: str) -> Path:
            return write_config(
                tmp_path,
                service=f'schedules = "schedules"\nstop_grace_seconds = {grace}',
                outbox='cities = ["tallinn"]',  # the practice is Vilnius's: none goes there
                extra=(
                    f'[channels.mastodon]\nenabled = true\napi_base_url = "{base_url}"\n'
                    f'access_token_env = "{token_env}"\nrequest_timeout = 600\n'
                    "total_timeout = 600\n"
                ),
            )

        path = configure_through(proxy.base_url)
        with Store(load_config(path).store.path) as store:
            reference(store)
            add_practice(store, "stuck", summary="Sent while the service stops.")
        running = Running(path, tmp_path / "service.log")
        # Once the status is posted and its answer has begun to trickle (a second later).
        code, took = stop_once(running, proxy.picked.is_set, "the status post", settle=1.0)
        lines = running.lines()
        assert code == 0, "\n".join(lines)
        # The grace, and the shutdown's own writes after it: never the send's ten minutes.
        assert took < grace + 5, f"took {took:.1f} s to stop:\n" + "\n".join(lines)
        assert any("ended 1 network call(s) in flight" in line for line in lines)
        [post] = query(load_config(path), "SELECT id, status FROM posts WHERE channel = 'mastodon'")
        assert post["status"] == "queued"  # checked against the server before it is sent again

        again = subprocess.run(
            [*command, str(configure_through(mock.base_url)), "run", "--once"],
            capture_output=True,
            text=True,
            timeout=WAIT * 2,
        )
        assert again.returncode == 0, again.stderr
        [post] = query(
            load_config(path), "SELECT status, remote_id FROM posts WHERE channel = 'mastodon'"
        )
        client = mock.client(token)
        statuses = client.account_statuses(client.me().id)
        assert post["status"] == "sent"
        assert [str(s.id) for s in statuses] == [post["remote_id"]]
    finally:
        proxy.stop()
        mock.stop()
