"""A fuzz run over every CLI command and every bot command: never a traceback (#13).

hypothesis builds each command line from the command's own options, values that broke
commsbot before ('²', '٣', 25 and 5,000 digits, NUL, escapes, a token like an option, an
empty path) and arbitrary text; each runs through the real CLI (click's CliRunner) against a
store with the sample network, posts, a subscriber and a queued post. Every command must
end with exit code 0, 1 or 2 and no traceback. Bot commands and button data go through the
bot's replies and must give a valid Telegram reply. The profile is fixed (derandomized, no
example database), so a run tries the same inputs every time and cannot flake; the counts
are reported with the other reliability figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commsbot.bot.replies import COMMANDS, Replies
from commsbot.cli import cli
from commsbot.config import load_config
from commsbot.store import Store
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW
from tests.support.reliability import FORM, report

CONFIG = """
[store]
path = "commsbot.db"

[channels.outbox]
enabled = true
path = "outbox"
"""
# Values that broke commsbot once, and values each command understands.
HUGE = "9" * 25
TRICKY = [
    "",
    " ",
    "0",
    "1",
    "-1",
    "²",
    "٣",
    HUGE,
    "9" * 5000,
    "a\x00b",
    "\x1b[31m",
    "line\nbreak",
    "-Xq3",
    "--",
    "<b>",
    "{{ x }}",
    "'",
    '"',
    "%s",
    "\u202e",
]
KNOWN = [
    "plzen",
    "Plzeň",
    "brokerage",
    "practice",
    "event",
    "newsletter",
    "practices",
    "outbox",
    "mastodon",
    "telegram",
    "email",
    "weekly",
    "monthly",
    "json",
    "csv",
    "table",
    "queued",
    "sent",
    "2026-W48",
    "2026-11",
    "2026-12-01",
    "2026-12-01 10:00",
    "0001-01-01",
    "9999-12-31",
    "anna@example.org",
    "#1",
    "telegram:1",
    "backup.db",
    "items.csv",
    "items.json",
    "report.html",
    # The only URL: loopback, a port nothing listens on (a feed check fails at once).
    "http://127.0.0.1:9/feed",
]
# Commands that would run until stopped are fuzzed in the form that ends.
ALWAYS: dict[tuple[str, ...], list[str]] = {("run",): ["--once"], ("web",): ["--check"]}


def fixed(examples: int) -> settings:
    """The fixed profile: the same inputs every run (derandomized, no example database)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


def leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, (*path, name)
        if isinstance(command, click.Group):
            yield from leaves(command, (*path, name))
        else:
            yield (*path, name)


def command_of(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, path
        command = found
    return command


COMMAND_PATHS = list(leaves(cli))


def safe(value: str) -> str:
    """Arbitrary text as an argument, kept inside the run's folder: no absolute path and
    no way up, since a command may write where a path points (backup --force, export)."""
    if value.startswith(("/", "~")) or ".." in value:
        return "x" + value.replace("..", "_")
    return value


def words(path: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    options = sorted(
        opt
        for param in command_of(path).params
        if isinstance(param, click.Option) and param.name not in ("config_path", "help")
        for opt in param.opts
    )
    text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
    word = st.one_of(
        *([st.sampled_from(options)] if options else []),
        st.sampled_from(TRICKY),
        st.sampled_from(KNOWN),
        text.map(safe),
    )
    return st.lists(word, max_size=8)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    tried: Counter[str] = Counter()
    failed = request.session.testsfailed
    yield tried
    if request.session.testsfailed == failed:
        report(
            "fuzz",
            {
                **tried,
                "CLI commands fuzzed": len(COMMAND_PATHS),
                "bot commands fuzzed": len(COMMANDS),
                "inputs tried": tried.total(),
                "tracebacks": 0,
            },
        )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's folder and its store; commands run in it (relative paths land there)."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "commsbot.toml").write_text(CONFIG, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("COMMSBOT_CONFIG", raising=False)
        for args in (
            ["init", "--sample"],
            ["run", "--once"],
            ["queue", "add", "Final conference", "--at", "2030-01-01 10:00"],
            ["subscribers", "add", "anna@example.org", "--frequency", "weekly"],
            ["backup", "backup.db"],
            ["content", "export", "-o", "items.json"],
            ["content", "export", "--format", "csv", "--type", "practice", "-o", "items.csv"],
        ):
            result = CliRunner().invoke(cli, ["--config", "commsbot.toml", *args])
            assert result.exit_code == 0, result.output
        yield folder


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=[" ".join(p) for p in COMMAND_PATHS])
def test_every_cli_command_ends_without_a_traceback(
    home: Path, tally: Counter[str], path: tuple[str, ...]
) -> None:
    @fixed(FORM.cli_examples)
    @given(args=words(path))
    def run(args: list[str]) -> None:
        argv = ["--config", "commsbot.toml", *path, *ALWAYS.get(path, []), *args]
        result = CliRunner().invoke(cli, argv)
        tally["CLI command lines"] += 1
        shown = [a if len(a) < 80 else f"{a[:40]}...({len(a)} characters)" for a in argv]
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            shown,
            repr(result.exception)[:300],
        )
        assert "Traceback" not in result.output, (shown, result.output[-2000:])
        assert result.exit_code in (0, 1, 2), (shown, result.output[-2000:])

    run()


@pytest.fixture(scope="module")
def replies(home: Path) -> Iterator[Replies]:
    with Store(home / "commsbot.db") as store:
        yield Replies(store, load_config(home / "commsbot.toml"), lambda: NOW)


BOT_WORDS = st.one_of(
    st.sampled_from(TRICKY),
    st.sampled_from(KNOWN),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20),
)


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_every_bot_command_and_button_gets_a_valid_reply(
    replies: Replies, tally: Counter[str], command: str
) -> None:
    @fixed(FORM.bot_command_examples)
    @given(
        args=st.lists(BOT_WORDS, max_size=6).map(" ".join),
        admin=st.booleans(),
        button=st.tuples(BOT_WORDS, BOT_WORDS, BOT_WORDS).map(
            lambda parts: "practices:" + ":".join(parts)
        ),
    )
    def run(args: str, admin: bool, button: str) -> None:
        logged, reply = replies.answer(command, args, "42", admin=admin)
        tally["bot commands"] += 1
        assert logged in (command, "unknown")
        assert is_valid_telegram_html(reply.text), (command, args, reply.text)
        page = replies.page(button)  # button data, as anyone can forge it
        tally["bot buttons"] += 1
        assert page is None or is_valid_telegram_html(page.text), button

    run()
