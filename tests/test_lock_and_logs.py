"""The store lock (one process per store) and the log format (JSON lines, secrets masked)."""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from commsbot.channels.base import ChannelSettings
from commsbot.config import Config, PostingConfig, ServiceConfig, StoreConfig
from commsbot.errors import StoreError
from commsbot.service import logs
from commsbot.service.lock import StoreLock, holder
from tests.support.base import Invoke


def test_lock_refuses_a_second_holder_naming_the_pid(tmp_path: Path) -> None:
    db = tmp_path / "commsbot.db"
    assert holder(db) is None
    with StoreLock(db, "commsbot run"):
        held = holder(db)
        assert held is not None
        assert (held["pid"], held["what"]) == (os.getpid(), "commsbot run")
        with pytest.raises(StoreError) as exc:
            StoreLock(db, "commsbot run").acquire()
        assert str(exc.value).startswith(
            f"{db}: the store is in use by commsbot PID {os.getpid()} (commsbot run since "
        )
        assert str(exc.value).endswith(
            f"one process per store — stop that one first (lock file {db}.lock)"
        )
    assert holder(db) is None
    # Released: the next one gets it, and the file names the new holder only.
    with StoreLock(db, "commsbot run --once"):
        assert holder(db)["what"] == "commsbot run --once"  # type: ignore[index]
    assert (tmp_path / "commsbot.db.lock").read_text() == ""


def test_run_once_refuses_while_the_store_is_held(
    invoke: Invoke, config_path: Path, tmp_path: Path
) -> None:
    with StoreLock(tmp_path / "commsbot.db", "commsbot run"):
        result = invoke("run", "--once")
    assert result.exit_code == 1
    assert f"the store is in use by commsbot PID {os.getpid()} (commsbot run since" in result.output
    assert "Traceback" not in result.output
    result = invoke("run", "--once")
    assert result.exit_code == 0, result.output


def capture(json_lines: bool, secrets: list[str]) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        logs.JsonLines() if json_lines else logging.Formatter("%(levelname)s %(message)s")
    )
    handler.addFilter(logs.MaskSecrets(secrets))
    return stream, handler


def test_json_lines_with_secrets_masked() -> None:
    stream, handler = capture(True, ["s3cr3t-token"])
    log = logging.getLogger("commsbot.test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("posted %s with %s", 7, "s3cr3t-token")
        try:
            raise RuntimeError("bad token s3cr3t-token")
        except RuntimeError:
            log.exception("channel failed")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "info",
        "logger": "commsbot.test",
        "message": "posted 7 with ***",
    }
    assert second["message"] == "channel failed"
    assert "RuntimeError: bad token ***" in second["traceback"]
    assert "s3cr3t" not in stream.getvalue()


@dataclass(frozen=True)
class TokenSettings(ChannelSettings):
    access_token_env: str = "TEST_COMMSBOT_TOKEN"
    other_env: str = "TEST_COMMSBOT_UNSET"


def test_secret_values_come_from_every_env_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_COMMSBOT_TOKEN", "tok-123456")
    monkeypatch.delenv("TEST_COMMSBOT_UNSET", raising=False)
    config = Config(
        file=tmp_path / "c.toml",
        store=StoreConfig(),
        service=ServiceConfig(),
        posting=PostingConfig(),
        channels={"mastodon": TokenSettings(enabled=True)},
    )
    assert logs.secret_values(config) == ["tok-123456"]


def test_setup_masks_secrets_learnt_later(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup(logging.INFO, json_lines=False)
    logs.mask_secrets(["tok-abcdef", "abc"])  # too short to be a secret worth masking
    logging.getLogger("commsbot.channel").info("connected with tok-abcdef (abc)")
    err = capsys.readouterr().err
    assert err.endswith("INFO commsbot.channel: connected with *** (abc)\n")


def test_a_librarys_warning_is_one_line_but_errors_keep_their_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup(logging.INFO, json_lines=False)
    try:
        raise ValueError("bad header")
    except ValueError:
        logging.getLogger("urllib3.connection").warning("Failed to parse headers", exc_info=True)
        logging.getLogger("commsbot.feeds").warning("our own warning", exc_info=True)
        logging.getLogger("telegram.ext").error("a library's error", exc_info=True)
    lines = capsys.readouterr().err.splitlines()
    warning = next(i for i, line in enumerate(lines) if "Failed to parse headers" in line)
    assert "Traceback" not in lines[warning + 1]
    assert lines[warning + 1].endswith("WARNING commsbot.feeds: our own warning")
    assert sum(line.startswith("Traceback") for line in lines) == 2
