"""Movement figures, `commsbot stats movement` and the [movement] config.

The scenario is tests/support/movement.py; period 2026-11-09 to 2026-11-29 in
Europe/Brussels (ISO weeks 46-48). Worked out by hand:

- W46: alice (pl, 3 favourites + 1 boost) and bob (en) use the tag, both heard for the first
  time; our own status with the tag counts as ours only.
- W47: alice again (1 favourite), old (en, 2 replies; first heard in W43, so not new), carol
  (de, 1 favourite) replies to our post mentioning us: new.
- W48: dave mentions us on Sunday 23:30 UTC, which is Monday in Brussels: new.
- erin (2026-11-30) is after the period.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from commsbot.channels.outbox import OutboxChannel, OutboxSettings
from commsbot.config import load_config
from commsbot.errors import ConfigError
from commsbot.insights import movement as mv
from commsbot.insights.stats import Period
from commsbot.service.jobs import job
from commsbot.store import Store
from commsbot.store import movement as movement_q
from tests.support.base import BASE_CONFIG, Invoke
from tests.support.movement import TAG, build_movement, status
from tests.support.stats import at

PERIOD = ("--since", "2026-11-09", "--until", "2026-11-29")
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.fixture
def scenario(sample_store: Store, config_path: Path) -> int:
    with config_path.open("a", encoding="utf-8") as f:
        f.write('\n[movement]\nhashtags = ["CrossInnovation"]\nmentions = true\n')
    return build_movement(sample_store)


def test_stats_movement_table(invoke: Invoke, scenario: int) -> None:
    result = invoke("stats", "movement", *PERIOD)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Movement from 2026-11-09 to 2026-11-29 (Europe/Brussels): 5 voices (4 new); "
        "4 statuses by 3 accounts with #CrossInnovation; 2 mentions; 1 reply to 1 of our posts.\n"
        "\n"
        "Per week (tagged: statuses by others with a campaign hashtag; accounts: who\n"
        "posted them; replies: to our posts; voices: accounts heard either way):\n"
        "week        tagged    accounts    mentions    replies    voices    new voices    own    reach\n"
        "--------  --------  ----------  ----------  ---------  --------  ------------  -----  -------\n"
        "2026-W46         2           2           0          0         2             2      1        4\n"
        "2026-W47         2           2           1          1         3             1      0        4\n"
        "2026-W48         0           0           1          0         1             1      0        0\n"
        "total            4           3           2          1         5             4      1        8\n"
        "\n"
        "Top voices by reach (favourites + boosts + replies of their statuses):\n"
        "  #  account                 statuses    reach  first seen    profile\n"
        "---  --------------------  ----------  -------  ------------  -----------------------------\n"
        "  1  alice@vilnius.social           2        5  2026-11-10    https://vilnius.social/@alice\n"
        "  2  old@x.social                   1        2  2026-10-20    https://x.social/@old\n"
        "  3  carol@tallinn.social           1        1  2026-11-19    https://tallinn.social/@carol\n"
        "  4  bob@plzen.social               1        0  2026-11-11    https://plzen.social/@bob\n"
        "  5  dave@linz.social               1        0  2026-11-23    https://linz.social/@dave\n"
        "\n"
        "Statuses by others, by language:\n"
        "language      statuses    accounts  share_pct\n"
        "----------  ----------  ----------  -----------\n"
        "en                   2           2  33.3 %\n"
        "pl                   2           1  33.3 %\n"
        "(unknown)            1           1  16.7 %\n"
        "de                   1           1  16.7 %\n"
        "\n"
        "Audience at the end of each week (followers, digest subscribers):\n"
        "week        mastodon  email digest subscribers\n"
        "--------  ----------  --------------------------\n"
        "2026-W46         110  -\n"
        "2026-W47         125  3\n"
        "2026-W48         140  5\n"
        "Change over the period: mastodon +40, email digest subscribers +2\n"
    )


def test_stats_movement_csv_and_json(invoke: Invoke, scenario: int) -> None:
    weeks = invoke("stats", "movement", *PERIOD, "--format", "csv")
    assert weeks.exit_code == 0, weeks.output
    assert weeks.output == (
        "week,tagged,accounts,mentions,replies,conversations,voices,new_voices,own,reach\n"
        "2026-W46,2,2,0,0,0,2,2,1,4\n"
        "2026-W47,2,2,1,1,1,3,1,0,4\n"
        "2026-W48,0,0,1,0,0,1,1,0,0\n"
    )
    audience = invoke("stats", "movement", *PERIOD, "--show", "audience", "--format", "csv")
    assert audience.output == (
        "week,mastodon,email digest subscribers\n2026-W46,110,\n2026-W47,125,3\n2026-W48,140,5\n"
    )
    voices = invoke(
        "stats", "movement", *PERIOD, "--show", "voices", "--top", "2", "--format", "csv"
    )
    assert voices.output == (
        "account,url,statuses,tagged,mentions,favourites,boosts,replies,reach,first_seen\n"
        "alice@vilnius.social,https://vilnius.social/@alice,2,2,0,4,1,0,5,2026-11-10T10:00:00+01:00\n"
        "old@x.social,https://x.social/@old,1,1,0,0,0,2,2,2026-10-20T12:00:00+02:00\n"
    )

    document = json.loads(invoke("stats", "movement", *PERIOD, "--format", "json").stdout)
    assert document["total"] == {
        "tagged": 4,
        "accounts": 3,
        "mentions": 2,
        "replies": 1,
        "conversations": 1,
        "voices": 5,
        "new_voices": 4,
        "own": 1,
        "reach": 8,
    }
    assert document["languages"] == [
        {"language": "en", "statuses": 2, "accounts": 2, "share_pct": 33.3},
        {"language": "pl", "statuses": 2, "accounts": 1, "share_pct": 33.3},
        {"language": "(unknown)", "statuses": 1, "accounts": 1, "share_pct": 16.7},
        {"language": "de", "statuses": 1, "accounts": 1, "share_pct": 16.7},
    ]
    assert document["audience"] == {
        "weeks": ["2026-W46", "2026-W47", "2026-W48"],
        "series": [
            {
                "channel": "mastodon",
                "kind": "audience",
                "start": 100,
                "end": 140,
                "change": 40,
                "label": "mastodon",
                "values": [110, 125, 140],
            },
            {
                "channel": "email",
                "kind": "subscribers",
                "start": 3,
                "end": 5,
                "change": 2,
                "label": "email digest subscribers",
                "values": [None, 3, 5],
            },
        ],
    }
    only = json.loads(
        invoke("stats", "movement", *PERIOD, "--show", "languages", "--format", "json").stdout
    )
    assert list(only) == ["period", "languages"]


def test_a_period_without_a_start_begins_with_the_first_status(scenario: int, store: Store) -> None:
    period = Period(None, at("2026-11-16 00:00"), BRUSSELS)  # Monday 01:00 in Brussels: W47

    figures = mv.load(store, period, top=3)

    assert [w.week for w in figures.weeks] == [f"2026-W{n}" for n in range(43, 48)]
    assert [(w.tagged, w.new_voices) for w in figures.weeks] == [
        (1, 1),
        (0, 0),
        (0, 0),
        (2, 2),
        (0, 0),  # the first hour of W47
    ]
    assert [v.acct for v in figures.voices] == [
        "alice@vilnius.social",
        "bob@plzen.social",
        "old@x.social",
    ]
    # Audience from its first snapshot: W45's Sunday 23:00 in Brussels.
    assert figures.audience.weeks == ["2026-W45", "2026-W46", "2026-W47"]
    (mastodon,) = figures.audience.series  # e-mail was first counted later
    assert (mastodon.values, mastodon.start, mastodon.end) == ([100, 110, 110], 100, 110)


def test_nothing_recorded_says_how_to_start(invoke: Invoke, sample_store: Store) -> None:
    result = invoke("stats", "movement", *PERIOD)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "No movement recorded from 2026-11-09 to 2026-11-29 (Europe/Brussels): set [movement] "
        "hashtags or mentions = true and run track-movement, and snapshot-audience for growth.\n"
    )
    empty = json.loads(invoke("stats", "movement", *PERIOD, "--format", "json").stdout)
    assert [w["voices"] for w in empty["weeks"]] == [0, 0, 0]
    assert empty["top_voices"] == [] and empty["audience"]["series"] == []


def test_a_status_seen_twice_is_stored_once(scenario: int, store: Store) -> None:
    """Found by its tag and then as a mention: one row, both flags, one tag, new counts."""
    again = status("200", "alice@vilnius.social", "2026-11-10 09:00", favourites=7, mention=True)
    now = at("2026-12-02 12:00")
    assert (
        movement_q.record_reading(store, "mastodon", movement_q.MENTIONS, [again], "78", now) == 0
    )
    assert (
        movement_q.record_reading(
            store, "mastodon", movement_q.tag_source(TAG), [again | {"tag": TAG}], "500", now
        )
        == 0
    )
    row = store.row(
        "SELECT favourites, boosts, mention, (SELECT count(*) FROM movement_tags t "
        "WHERE t.status_id = s.id) AS tags FROM movement_statuses s WHERE remote_id = '200'"
    )
    assert row == {"favourites": 7, "boosts": 0, "mention": 1, "tags": 1}
    assert store.scalar("SELECT count(*) FROM movement_statuses") == 9
    cursors = movement_q.cursors(store, "mastodon")
    assert {k: v["newest_id"] for k, v in cursors.items()} == {
        "tag:crossinnovation": "500",
        "mentions": "78",
    }


def test_a_reply_to_our_post_is_linked_to_it(scenario: int, store: Store) -> None:
    linked = store.rows(
        "SELECT remote_id, reply_to_post FROM movement_statuses WHERE reply_to_post IS NOT NULL"
    )
    assert linked == [{"remote_id": "320", "reply_to_post": scenario}]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "foo = 1",
            "movement.foo: unknown key (known: account, accounts, hashtags, max_pages, mentions, page_size, refresh_days, requests_per_run)",
        ),
        (
            'hashtags = [""]',
            'movement.hashtags[0]: is empty; write a tag without "#", e.g. "CrossInnovation"',
        ),
        (
            'hashtags = ["  "]',
            'movement.hashtags[0]: is empty; write a tag without "#", e.g. "CrossInnovation"',
        ),
        (
            'hashtags = ["Cities", "#CrossInnovation"]',
            "movement.hashtags[1]: write the tag without \"#\": 'CrossInnovation'",
        ),
        (
            'hashtags = ["Cross Innovation"]',
            "movement.hashtags[0]: 'Cross Innovation' is not a hashtag (letters, digits and _ only, not only digits)",
        ),
        (
            'hashtags = ["2014"]',
            "movement.hashtags[0]: '2014' is not a hashtag (letters, digits and _ only, not only digits)",
        ),
        (
            'hashtags = ["CrossInnovation", "crossinnovation"]',
            "movement.hashtags[1]: 'crossinnovation' is already movement.hashtags[0] (tags ignore case)",
        ),
        ('hashtags = "CrossInnovation"', "movement.hashtags: must be a list, not a string"),
        ("mentions = 1", "movement.mentions: must be true or false, not an integer"),
        ("page_size = 41", "movement.page_size: must be from 1 to 40 (Mastodon's maximum)"),
        ("max_pages = 0", "movement.max_pages: must be 1 or more"),
        (
            "requests_per_run = 151",
            "movement.requests_per_run: must be from 1 to 150: Mastodon allows an account 300 requests per 5 minutes, and posting needs the rest",
        ),
        ("refresh_days = -1", "movement.refresh_days: must be 0 or more"),
    ],
)
def test_bad_movement_config_names_the_key(
    config_path: Path, invoke: Invoke, section: str, message: str
) -> None:
    config_path.write_text(f"{BASE_CONFIG}\n[movement]\n{section}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == f"{config_path}: {message}"

    result = invoke("stats", "movement")
    assert result.exit_code == 1
    assert result.output == f"Error: {config_path}: {message}\n"


def test_a_good_movement_config(config_path: Path) -> None:
    config_path.write_text(
        f'{BASE_CONFIG}\n[movement]\nhashtags = ["CrossInnovation", "Kūrybiškumas_2014"]\n'
        "mentions = true\npage_size = 20\nmax_pages = 2\nrequests_per_run = 150\nrefresh_days = 0\n",
        encoding="utf-8",
    )
    movement = load_config(config_path).movement
    assert movement.hashtags == ("CrossInnovation", "Kūrybiškumas_2014")
    assert (movement.mentions, movement.page_size, movement.max_pages) == (True, 20, 2)
    assert (movement.requests_per_run, movement.refresh_days) == (150, 0)


def test_the_jobs_say_why_they_cannot_run(tmp_path: Path, config_path: Path) -> None:
    outbox_only = load_config(config_path)
    assert job("track-movement").requires(outbox_only) == (
        "no Mastodon or Bluesky account that tracks the movement is enabled"
    )
    assert job("snapshot-audience").requires(outbox_only) == (
        "no enabled channel has followers or digest subscribers"
    )
    mastodon = '\n[channels.mastodon]\nenabled = true\napi_base_url = "https://mastodon.example"\n'
    config_path.write_text(BASE_CONFIG + mastodon, encoding="utf-8")
    quiet = load_config(config_path)
    assert (
        job("track-movement").requires(quiet) == "[movement] names no hashtags and mentions = false"
    )
    assert job("snapshot-audience").requires(quiet) is None
    config_path.write_text(
        BASE_CONFIG + mastodon + "\n[movement]\nmentions = true\n", encoding="utf-8"
    )
    assert job("track-movement").requires(load_config(config_path)) is None


def test_a_channel_without_an_audience_says_none() -> None:
    assert asyncio.run(OutboxChannel(OutboxSettings()).audience_size()) is None


def test_forget_needs_an_account(invoke: Invoke, store: Store) -> None:
    result = invoke("movement", "forget", " @ ")
    assert result.exit_code == 2
    assert "Invalid value for ACCOUNT: give an account, e.g. alice@mastodon.social" in result.output


def test_a_voice_with_a_javascript_profile_url_is_not_a_link(
    invoke: Invoke, scenario: int, sample_store: Store, tmp_path: Path
) -> None:
    """Another server's profile URL reaches the report's HTML only when it is http(s) (#14)."""
    hostile = status("9001", "mallory@evil.example", "2026-11-18T10:00:00Z", favourites=50)
    hostile["account_url"] = "javascript:alert(document.cookie)"
    movement_q.record_reading(
        sample_store,
        "mastodon",
        movement_q.tag_source(TAG),
        [hostile],
        "9001",
        at("2026-11-20T00:00:00Z"),
    )
    target = tmp_path / "report.html"
    result = invoke("report", "--html", str(target), *PERIOD)
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert "mallory@evil.example" in page
    assert "javascript:" not in page
