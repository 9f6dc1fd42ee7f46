"""Secrets are masked on every stream (#13): a server that echoes the credentials it was
sent cannot get them printed by ``channels test``, the ``problem:`` lines of ``run --once``
or ``run --once --json``; nor can ``print`` or a log line."""

from __future__ import annotations

import http.server
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from commsbot.cli import cli
from commsbot.service import logs
from commsbot.store import Store
from tests.support.base import BASE_CONFIG
from tests.support.mastodon import LoopbackServer

TOKEN = 'tok"en-\\Ünïcode-4f9a2b'  # quotes, a backslash, non-ASCII: JSON escapes them
TOKEN_ENV = "COMMSBOT_TEST_MASKED_TOKEN"


class Echoing(http.server.BaseHTTPRequestHandler):
    """Answers everything with 401 and an error that repeats the credentials it got."""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        got = self.headers.get("Authorization", "")
        body = json.dumps({"error": f"The access token {got} is invalid"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _echo


@pytest.fixture
def echoing() -> Iterator[LoopbackServer]:
    server = LoopbackServer(Echoing).start()
    yield server
    server.stop()


@pytest.fixture
def config(
    tmp_path: Path, echoing: LoopbackServer, monkeypatch: pytest.MonkeyPatch, sample_store: Store
) -> Path:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    path = tmp_path / "commsbot.toml"
    path.write_text(
        BASE_CONFIG
        + f'[channels.mastodon]\nenabled = true\napi_base_url = "{echoing.base_url}"\n'
        + f'access_token_env = "{TOKEN_ENV}"\n',
        encoding="utf-8",
    )
    return path


def leaked(output: str) -> list[str]:
    forms = {TOKEN, json.dumps(TOKEN)[1:-1], json.dumps(TOKEN, ensure_ascii=False)[1:-1]}
    return [form for form in forms if form in output]


@pytest.mark.parametrize(
    "args",
    [("channels", "test", "mastodon"), ("run", "--once"), ("run", "--once", "--json")],
)
def test_a_server_echoing_the_token_cannot_get_it_printed(config: Path, args: tuple[str]) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])

    assert "The access token" in result.output  # the server's answer was shown...
    assert leaked(result.output) == []  # ...without the token in it
    assert logs.MASK in result.output


def test_print_and_log_lines_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    logs.mask_secrets([TOKEN])
    logs.mask_streams()
    print(f"print: {TOKEN}")
    sys.stderr.write(f"stderr: {json.dumps(TOKEN)}\n")
    logs.setup(logging.WARNING, json_lines=True)
    logging.getLogger("commsbot.test").warning("log: %s", TOKEN)
    out, err = capsys.readouterr()
    assert "print: ***" in out
    assert 'stderr: "***"' in err
    assert '"message": "log: ***"' in err
    assert leaked(out + err) == []


def test_a_secret_is_masked_in_any_case() -> None:
    """python-telegram-bot capitalizes a "Bad Request: ..." answer, lowering the rest: a
    token the Bot API quoted reaches its error in lower case."""
    from commsbot.channels.telegram import redact

    said = f"No webhook for bot{TOKEN.lower()}, nor for {TOKEN.upper()}"
    assert logs.MaskSecrets([TOKEN]).mask(said) == "No webhook for bot***, nor for ***"
    assert redact(said, TOKEN) == "No webhook for bot<token>, nor for <token>"
