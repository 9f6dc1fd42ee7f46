"""Config: validation errors name the file and key; secrets never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from commsbot.channels.base import read_secret
from commsbot.config import load_config
from commsbot.errors import ConfigError
from tests.support.base import BASE_CONFIG, Invoke


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[store]\npaht = 'x.db'\n", r"c\.toml: store\.paht: unknown key \(known: path\)"),
        (
            "[posting]\nmax_attempts = 'five'\n",
            r"posting\.max_attempts: must be an integer, not a string",
        ),
        (
            "[posting]\nmax_attempts = true\n",
            r"posting\.max_attempts: must be an integer, not a boolean",
        ),
        ("[stor]\n", r"unknown section \[stor\]"),
        (
            "[channels.myspace]\nenabled = true\n",
            r"unknown channel \[channels\.myspace\]: give it a kind.*\(known kinds: outbox",
        ),
        (
            "[channels.outbox]\nenabled = 'yes'\n",
            r"channels\.outbox\.enabled: must be true or false",
        ),
        ("[service]\ntimezone = 'Europe/Atlantis'\n", r"service\.timezone: unknown time zone"),
        ("[store\npath=1", r"c\.toml: invalid TOML"),
        ("[channels.outbox]\nutm = 'x'\n", r"channels\.outbox\.utm: must be a table, not a string"),
        # Checked when the config loads, not when the channel first opens (#15).
        (
            "[channels.telegram]\nposts_per_minute = 0\n",
            r"channels\.telegram\.posts_per_minute: must be above 0 and at most 1800",
        ),
        (
            "[channels.telegram]\ndirect_per_second = -1\n",
            r"channels\.telegram\.direct_per_second: must be above 0",
        ),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(tmp_path / "nope.toml")


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE_CONFIG))
    assert config.store.path == tmp_path / "commsbot.db"
    outbox = config.channel("outbox")
    assert outbox.path == tmp_path / "outbox"  # type: ignore[attr-defined]
    assert config.enabled_channels == ["outbox"]


def test_unknown_channel_name_lookup(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE_CONFIG))
    with pytest.raises(
        ConfigError, match=r"no channel 'mastodon' is configured \(configured: outbox\)"
    ):
        config.channel("mastodon")


def test_read_secret_names_the_key_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMMSBOT_TEST_TOKEN", raising=False)
    with pytest.raises(
        ConfigError,
        match=r"channels\.x\.token_env names the environment variable COMMSBOT_TEST_TOKEN, which is not set",
    ):
        read_secret("COMMSBOT_TEST_TOKEN", "channels.x.token_env")
    monkeypatch.setenv("COMMSBOT_TEST_TOKEN", "s3cr3t-value")
    assert read_secret("COMMSBOT_TEST_TOKEN", "channels.x.token_env") == "s3cr3t-value"


def test_config_show_prints_settings_and_never_a_secret(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, config_path: Path
) -> None:
    import tomllib

    monkeypatch.setenv("COMMSBOT_MASTODON_TOKEN", "s3cr3t-value")
    config_path.write_text(
        config_path.read_text().replace(
            'path = "outbox"', 'path = "outbox"\nutm = {utm_source = "x"}'
        )
        + '\n[[feeds]]\nurl = "https://example.org/a.xml"\n[[feeds]]\nurl = "https://example.org/b.xml"\n'
    )
    result = invoke("config", "show")
    assert result.exit_code == 0, result.output
    shown = tomllib.loads(result.output)  # what it prints is valid TOML
    assert shown["channels"]["outbox"]["utm"] == {"utm_source": "x"}
    assert [f["url"] for f in shown["feeds"]] == [
        "https://example.org/a.xml",
        "https://example.org/b.xml",
    ]
    assert "[channels.outbox]" in result.output
    assert 'timezone = "Europe/Brussels"' in result.output
    assert "s3cr3t-value" not in result.output
    result = invoke("config", "show", "--format", "json")
    assert '"max_attempts": 5' in result.output


def test_cli_reports_config_errors_without_traceback(tmp_path: Path, invoke: Invoke) -> None:
    from click.testing import CliRunner

    from commsbot.cli import cli

    bad = write(tmp_path, "[posting]\nmax_attempts = 'x'\n")
    result = CliRunner().invoke(cli, ["--config", str(bad), "queue", "list"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"Error: {bad}: posting.max_attempts: must be an integer" in result.output


# Every value that names something is checked at load (#13): a typo here used to pass and
# then crash every publish run.
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[posting]\ncontent_types = ["practice", "practise"]\n',
            "posting.content_types[1]: unknown content type 'practise'; did you mean "
            "'practice'? (known: practice, event, newsletter, news)",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/feed"\ncity = "Plzn"\n',
            "feeds[0].city: unknown city 'Plzn'; did you mean 'plzen'? (known: amsterdam, ",
        ),
        (
            '[[feeds]]\nurl = "https://a.example/feed"\ntheme = "brokrage"\n',
            "feeds[0].theme: unknown theme 'brokrage'; did you mean 'brokerage'? (known: ",
        ),
        (
            '[channels.mastodon]\nlanguage = "english"\n',
            "channels.mastodon.language: unknown language 'english' "
            "(known: en, nl, it, de, et, pl, lt, sv, pt, cs)",
        ),
        (
            '[approval.channels.mastodn]\ndefault = "approve"\n',
            "approval.channels.mastodn: unknown channel 'mastodn' (known: outbox)",
        ),
    ],
)
def test_names_in_the_config_are_known_ones(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, BASE_CONFIG + text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_cities_and_themes_go_by_slug_name_or_local_name(tmp_path: Path) -> None:
    feeds = "".join(
        f'[[feeds]]\nurl = "https://a.example/{i}"\ncity = "{city}"\ntheme = "{theme}"\n'
        for i, (city, theme) in enumerate(
            [("Plzeň", "Brokerage"), ("plzen", "brokerage"), ("Warszawa", "smart-incentives")]
        )
    )
    config = load_config(write(tmp_path, BASE_CONFIG + feeds))
    assert [f.city for f in config.feeds] == ["Plzeň", "plzen", "Warszawa"]


def test_the_config_knows_the_content_types_that_exist() -> None:
    from commsbot.config_names import CONTENT_TYPES
    from commsbot.content.types import TYPES

    assert tuple(TYPES) == CONTENT_TYPES
