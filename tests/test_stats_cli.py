"""``commsbot stats`` and ``commsbot report`` as the coordinator runs them: table, CSV, JSON.

The data and its figures are those of tests/test_stats.py (tests/support/stats.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from commsbot.store import Store
from tests.support.base import Invoke
from tests.support.stats import add_post, build_scenario, snapshot, subscriber

PERIOD = ("--since", "2026-11-09", "--until", "2026-11-29")
EXPECTED_PERIOD = {
    "since": "2026-11-09T00:00:00+01:00",
    "until": "2026-11-30T00:00:00+01:00",
    "timezone": "Europe/Brussels",
}


@pytest.fixture
def ids(sample_store: Store) -> dict[str, int]:
    return build_scenario(sample_store)


def ok(invoke: Invoke, *args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.output


def cells(output: str, first: str) -> list[str]:
    """The cells of the table line that starts with ``first``."""
    for line in output.splitlines():
        if line.split() and line.split()[0] == first:
            return line.split()
    raise AssertionError(f"no line for {first!r} in:\n{output}")


def test_stats_table_by_channel(invoke: Invoke, ids: dict[str, int]) -> None:
    out = ok(invoke, "stats", *PERIOD)
    assert out.splitlines()[0] == (
        "Posts sent from 2026-11-09 to 2026-11-29 (Europe/Brussels), by channel:"
    )
    assert cells(out, "mastodon") == ["mastodon", "3", "15", "6", "3", "0", "24", "8.00", "1"]
    assert cells(out, "outbox") == ["outbox", "1", "0", "0", "0", "0", "0", "0.00", "0"]
    assert cells(out, "telegram") == ["telegram", "2", "0", "0", "0", "10", "10", "5.00", "0"]
    assert cells(out, "total") == ["total", "6", "15", "6", "3", "10", "34", "5.67", "1"]


def test_stats_csv_by_theme(invoke: Invoke, ids: dict[str, int]) -> None:
    out = ok(invoke, "stats", *PERIOD, "--by", "theme", "--format", "csv")
    assert out == (
        "theme,posts,favourites,boosts,replies,reactions,quotes,engagement,per_post,deleted\n"
        "brokerage,1,10,4,2,0,0,16,16.0,1\n"
        "culture-based-innovation,0,0,0,0,0,0,0,,0\n"
        "smart-incentives,2,5,2,1,7,0,15,7.5,0\n"
        "spatial-cross-collaboration,0,0,0,0,0,0,0,,0\n"
        ",3,0,0,0,3,0,3,1.0,0\n"
    )


def test_stats_json_by_week(invoke: Invoke, ids: dict[str, int]) -> None:
    doc = json.loads(ok(invoke, "stats", *PERIOD, "--by", "week", "--format", "json"))
    assert doc["period"] == EXPECTED_PERIOD
    assert doc["by"] == "week"
    assert [(r["week"], r["posts"], r["engagement"], r["per_post"]) for r in doc["rows"]] == [
        ("2026-W46", 2, 15, 7.5),
        ("2026-W47", 2, 16, 8.0),
        ("2026-W48", 2, 3, 1.5),
    ]
    assert doc["total"] == {
        "posts": 6,
        "favourites": 15,
        "boosts": 6,
        "replies": 3,
        "reactions": 10,
        "quotes": 0,
        "engagement": 34,
        "per_post": 5.67,
        "deleted": 1,
    }


def test_stats_by_city_and_type(invoke: Invoke, ids: dict[str, int]) -> None:
    out = ok(invoke, "stats", *PERIOD, "--by", "city")
    assert cells(out, "Plzeň") == ["Plzeň", "2", "5", "2", "1", "7", "15", "7.50", "0"]
    assert cells(out, "Linz") == ["Linz", "0", "0", "0", "0", "0", "0", "-", "0"]
    assert cells(out, "(none)")[1] == "2"
    doc = json.loads(ok(invoke, "stats", *PERIOD, "--by", "type", "--format", "json"))
    assert {r["type"]: r["engagement"] for r in doc["rows"]} == {
        "announcement": 0,
        "event": 0,
        "newsletter": 3,
        "practice": 31,
    }


def test_stats_top(invoke: Invoke, ids: dict[str, int]) -> None:
    doc = json.loads(ok(invoke, "stats", "top", *PERIOD, "--n", "2", "--format", "json"))
    assert doc["rows"] == [
        {
            "rank": 1,
            "post_id": ids["p3"],
            "channel": "mastodon",
            "type": "practice",
            "title": "Games & Health Brokerage",
            "sent_at": "2026-11-17T09:00:00+01:00",
            "favourites": 10,
            "boosts": 4,
            "replies": 2,
            "reactions": 0,
            "quotes": 0,
            "engagement": 16,
            "url": f"https://mastodon.example/p/{ids['p3']}",
            "deleted": True,
        },
        {
            "rank": 2,
            "post_id": ids["p1"],
            "channel": "mastodon",
            "type": "practice",
            "title": "Plzeň Creative Voucher for Engineering Firms",
            "sent_at": "2026-11-10T10:00:00+01:00",
            "favourites": 5,
            "boosts": 2,
            "replies": 1,
            "reactions": 0,
            "quotes": 0,
            "engagement": 8,
            "url": f"https://mastodon.example/p/{ids['p1']}",
            "deleted": False,
        },
    ]
    out = ok(invoke, "stats", "top", *PERIOD, "--n", "3")
    assert f"[deleted on the platform] https://mastodon.example/p/{ids['p3']}" in out
    assert f"https://telegram.example/p/{ids['p2']}" in out
    assert cells(out, "3")[:5] == ["3", "telegram", "practice", "2026-11-10", "7"]


def test_stats_subscribers(invoke: Invoke, ids: dict[str, int]) -> None:
    out = ok(invoke, "stats", "subscribers", *PERIOD, "--format", "csv")
    assert out == (
        "channel,frequency,active_start,new,unsubscribed,bounced,net,active_end,churn_pct\n"
        "email,weekly,2,0,1,0,-1,1,50.0\n"
        "email,monthly,1,1,0,1,0,1,50.0\n"
        "telegram,weekly,0,3,1,0,2,2,33.3\n"
        "telegram,monthly,0,0,0,0,0,0,\n"
    )
    table = ok(invoke, "stats", "subscribers", *PERIOD)
    assert cells(table, "total") == ["total", "all", "3", "4", "2", "1", "+1", "4", "42.9", "%"]


def test_stats_bot(invoke: Invoke, ids: dict[str, int]) -> None:
    out = ok(invoke, "stats", "bot", *PERIOD)
    assert cells(out, "search") == ["search", "3", "2", "50.0", "%"]
    assert cells(out, "total") == ["total", "6", "4", "100.0", "%"]
    doc = json.loads(ok(invoke, "stats", "bot", *PERIOD, "--format", "json"))
    assert doc["total"] == {"command": "total", "queries": 6, "chats": 4, "share_pct": 100.0}
    assert [r["command"] for r in doc["rows"]] == ["search", "practices", "start"]


def test_no_data_is_a_clear_answer_not_an_error(invoke: Invoke, store: Store) -> None:
    period = "from 2026-11-09 to 2026-11-29 (Europe/Brussels)"
    assert ok(invoke, "stats", *PERIOD) == f"No posts were sent {period}.\n"
    assert ok(invoke, "stats", "top", *PERIOD) == f"No posts were sent {period}.\n"
    assert ok(invoke, "stats", "bot", *PERIOD) == f"The bot was not used {period}.\n"
    assert ok(invoke, "stats", *PERIOD, "--format", "csv") == ""
    doc = json.loads(ok(invoke, "stats", *PERIOD, "--format", "json"))
    assert doc["rows"] == []
    assert doc["total"]["posts"] == 0 and doc["total"]["per_post"] is None
    summary = ok(invoke, "stats", "subscribers", *PERIOD)
    assert cells(summary, "total")[2:8] == ["0", "0", "0", "0", "+0", "0"]


def test_one_post_without_period(invoke: Invoke, store: Store) -> None:
    post = add_post(store, "mastodon", "announcement", 1, "2026-11-20 10:00", text="Solo")
    snapshot(store, post, "2026-11-21 10:00", favourites=3, replies=2)
    out = ok(invoke, "stats", "--until", "2026-11-22")
    assert "from the beginning to 2026-11-22" in out.splitlines()[0]
    assert cells(out, "mastodon") == ["mastodon", "1", "3", "0", "2", "0", "5", "5.00", "0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats", "--since", "2026-02-30"), "Invalid value for '--since': '2026-02-30' is not a"),
        (("stats", "--until", "29/11/2026"), "Invalid value for '--until': '29/11/2026' is not a"),
        (("stats", "top", "--since", "yesterday"), "Invalid value for '--since': 'yesterday'"),
        (("stats", "bot", "--until", ""), "Invalid value for '--until': '' is not a date"),
        (
            ("stats", "subscribers", "--since", "2026-11-30", "--until", "2026-11-01"),
            "Invalid value for '--since': 2026-11-30 is not before the end of the period "
            "(2026-11-01)",
        ),
        (
            ("report", "--html", "r.html", "--since", "2026-11-9"),
            "Invalid value for '--since': '2026-11-9' is not a date; use YYYY-MM-DD",
        ),
        (("stats", "--by", "colour"), "Invalid value for '--by': 'colour' is not one of"),
        (("stats", "top", "--n", "0"), "Invalid value for '--n': 0 is not in the range x>=1"),
    ],
)
def test_bad_options_name_themselves(
    invoke: Invoke, store: Store, args: tuple[str, ...], message: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_report_is_written_and_self_contained(
    invoke: Invoke, ids: dict[str, int], tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    out = ok(invoke, "report", "--html", str(target), *PERIOD)
    assert out == (f"report for 2026-11-09 to 2026-11-29 (Europe/Brussels) written to {target}\n")
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # Nothing that would make the page fetch anything.
    for needle in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url("):
        assert needle not in html
    assert re.findall(r'href="([^"]+)"', html) == [
        f"https://mastodon.example/p/{ids['p1']}",
        f"https://telegram.example/p/{ids['p2']}",
        f"https://telegram.example/p/{ids['p5']}",
        f"https://mastodon.example/p/{ids['p4']}",
        f"https://outbox.example/p/{ids['p6']}",
    ]  # the deleted post (ranked first) is not linked
    assert html.count("<svg") == 6
    assert html.count('role="img"') == 6
    assert "Games &amp; Health Brokerage" in html


def test_report_on_an_empty_store(invoke: Invoke, store: Store, tmp_path: Path) -> None:
    target = tmp_path / "empty.html"
    ok(invoke, "report", "--html", str(target), *PERIOD)
    html = target.read_text(encoding="utf-8")
    assert 'id="empty-report"' in html
    assert "No posts were sent in this period." in html
    assert "<svg" not in html  # no reference data either: not even the heat-map


def test_report_to_an_unwritable_place(invoke: Invoke, store: Store, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "r.html"
    result = invoke("report", "--html", str(target), *PERIOD)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {target}: cannot write the report: No such file or directory\n"
    )


def test_subscriber_left_and_joined_at_the_period_start(invoke: Invoke, store: Store) -> None:
    # Brussels midnight on 2026-11-09 is 23:00 UTC the day before.
    subscriber(store, "email", "a@example.org", "weekly", "2026-11-08 23:00")
    subscriber(
        store, "email", "b@example.org", "weekly", "2026-10-01 12:00", left="2026-11-08 23:00"
    )
    doc = json.loads(ok(invoke, "stats", "subscribers", *PERIOD, "--format", "json"))
    assert doc["rows"][0] == {
        "channel": "email",
        "frequency": "weekly",
        "active_start": 1,
        "new": 1,
        "unsubscribed": 1,
        "bounced": 0,
        "net": 0,
        "active_end": 1,
        "churn_pct": 50.0,
    }


def test_report_groups_thousands(invoke: Invoke, store: Store, tmp_path: Path) -> None:
    post = add_post(store, "mastodon", "announcement", 1, "2026-11-20 10:00", text="Viral")
    snapshot(store, post, "2026-11-21 10:00", favourites=12345, boosts=1000)
    target = tmp_path / "r.html"
    ok(invoke, "report", "--html", str(target), *PERIOD)
    html = target.read_text(encoding="utf-8")
    assert "<li>Engagement<b>13,345</b></li>" in html
    assert '<td class="n">12,345</td>' in html
