"""The HTML report opened in headless Chromium at a phone's width.

It must load with no console errors and no request beyond the file itself, draw its
charts, show the exact figures of tests/test_stats.py in its tables, fit the screen, and
leave a screenshot in the test's tmp dir. Without chromium the test skips, unless CI=true.
"""

from __future__ import annotations

from pathlib import Path

from commsbot.store import Store
from tests.support.base import Invoke
from tests.support.browser import Chromium
from tests.support.stats import build_scenario

PERIOD = ("--since", "2026-11-09", "--until", "2026-11-29")
PNG = b"\x89PNG\r\n\x1a\n"

# What a reader sees, gathered in the page.
FACTS = """(() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : null);
  const cells = (tr) => [...tr.children].map(text);
  const rows = (id, part = "tbody") =>
    [...document.querySelectorAll(`#${id} ${part} tr`)].map(cells);
  const charts = [...document.querySelectorAll("svg")].map((svg) => {
    const box = svg.getBoundingClientRect();
    const labels = (svg.getAttribute("aria-labelledby") || "").split(" ");
    return {
      chart: svg.dataset.chart,
      role: svg.getAttribute("role"),
      labels: labels.map((id) => text(document.getElementById(id))),
      width: Math.round(box.width),
      height: Math.round(box.height),
      marks: svg.querySelectorAll("rect, circle, polyline").length,
    };
  });
  const bars = (id) =>
    [...document.querySelectorAll(`[data-chart="${id}"] g.bar`)].map((g) => [
      text(g.querySelector("text")),
      Math.round(g.querySelector("rect").getBoundingClientRect().width),
    ]);
  return {
    title: document.title,
    cards: [...document.querySelectorAll("#summary li")].map((li) => [
      li.firstChild.textContent.trim(),
      text(li.querySelector("b")),
    ]),
    deleted: text(document.getElementById("deleted-note")),
    charts,
    weekly: rows("table-weekly"),
    weeklyTotal: rows("table-weekly", "tfoot"),
    themeBars: bars("themes-chart"),
    heatCells: document.querySelectorAll('[data-chart="heat-chart"] g.cell').length,
    heat: rows("table-heat"),
    top: rows("table-top"),
    growth: rows("table-growth"),
    subscribersTotal: rows("table-subscribers", "tfoot"),
    bot: rows("table-bot"),
    empty: text(document.getElementById("empty-report")),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
})()"""


def write_report(invoke: Invoke, path: Path) -> Path:
    result = invoke("report", "--html", str(path), *PERIOD)
    assert result.exit_code == 0, result.output
    return path


def test_report_in_chromium(
    browser: Chromium, invoke: Invoke, sample_store: Store, tmp_path: Path
) -> None:
    build_scenario(sample_store)
    report = write_report(invoke, tmp_path / "report.html")
    shot = tmp_path / "report.png"

    page = browser.load(report.as_uri(), FACTS, shot)

    assert page.errors == []
    assert page.requests == [report.as_uri()]
    facts = page.facts
    assert facts["title"] == "Engagement report, 2026-11-09 to 2026-11-29 (Europe/Brussels)"
    assert facts["cards"] == [
        ["Posts sent", "6"],
        ["Engagement", "34"],
        ["Per post", "5.67"],
        ["Active subscribers", "4"],
        ["Bot queries", "6"],
    ]
    assert facts["deleted"] == (
        "deleted 1 post was deleted on the platform; its last known counts are included."
    )
    assert facts["empty"] is None

    charts = {c["chart"]: c for c in facts["charts"]}
    assert list(charts) == [
        "weekly-chart",
        "themes-chart",
        "cities-chart",
        "heat-chart",
        "growth-chart",
        "bot-chart",
    ]
    for chart in charts.values():
        assert chart["role"] == "img"
        title, desc = chart["labels"]
        assert title and desc, chart
        assert 300 <= chart["width"] <= 390 and chart["height"] > 100, chart
    assert charts["weekly-chart"]["marks"] == 4  # W46 mastodon+telegram, W47, W48
    assert charts["growth-chart"]["marks"] == 2 * (1 + 3)  # a line and 3 points per channel
    assert charts["heat-chart"]["labels"][0] == "Engagement by city and theme"

    assert facts["weekly"] == [
        ["2026-W46", "8", "0", "7", "2", "15"],
        ["2026-W47", "16", "0", "0", "2", "16"],
        ["2026-W48", "0", "0", "3", "2", "3"],
    ]
    assert facts["weeklyTotal"] == [["total", "24", "0", "10", "6", "34"]]

    # Bars are drawn to scale: Brokerage 16 is the longest, Smart Incentives 15 of 16 of it.
    bars = dict(facts["themeBars"])
    assert bars["Brokerage"] > 0 and bars["Culture-based Innovation"] == 0
    assert abs(bars["Smart Incentives"] / bars["Brokerage"] - 15 / 16) < 0.02

    assert facts["heatCells"] == 44  # 11 cities x 4 themes, zeros included
    heat = {row[0]: row[1:] for row in facts["heat"]}
    assert len(heat) == 11
    assert heat["Plzeň"] == ["0 (0)", "0 (0)", "15 (2)", "0 (0)", "15 (2)"]
    assert heat["Vilnius"] == ["16 (1)", "0 (0)", "0 (0)", "0 (0)", "16 (1)"]
    assert heat["Linz"] == ["0 (0)"] * 5

    assert [row[:5] for row in facts["top"]] == [
        ["1", "Games & Health Brokerage deleted on the platform", "mastodon", "2026-11-17", "16"],
        ["2", "Plzeň Creative Voucher for Engineering Firms", "mastodon", "2026-11-10", "8"],
        ["3", "Plzeň Creative Voucher for Engineering Firms", "telegram", "2026-11-10", "7"],
        ["4", "Cross-Innovation Newsletter #1", "telegram", "2026-11-23", "3"],
        ["5", "Kick-off meeting", "mastodon", "2026-11-18", "0"],
        ["6", "General Meeting 5 opens tomorrow in Vilnius", "outbox", "2026-11-23", "0"],
    ]
    assert facts["growth"] == [
        ["2026-W46", "2", "1", "3"],
        ["2026-W47", "2", "0", "2"],
        ["2026-W48", "2", "2", "4"],
    ]
    assert facts["subscribersTotal"] == [["total", "", "3", "4", "2", "1", "+1", "4", "42.9 %"]]
    assert facts["bot"] == [
        ["search", "3", "2", "50.0 %"],
        ["practices", "2", "2", "33.3 %"],
        ["start", "1", "1", "16.7 %"],
    ]
    # Readable on a phone: nothing wider than the screen (wide tables scroll in their box).
    assert facts["innerWidth"] == 390
    assert facts["scrollWidth"] <= facts["innerWidth"]

    data = shot.read_bytes()
    assert data.startswith(PNG)
    assert int.from_bytes(data[16:20], "big") == 390  # the PNG's width


def test_empty_report_in_chromium(
    browser: Chromium, invoke: Invoke, store: Store, tmp_path: Path
) -> None:
    report = write_report(invoke, tmp_path / "empty.html")
    page = browser.load(report.as_uri(), FACTS, tmp_path / "empty.png")
    assert page.errors == []
    assert page.requests == [report.as_uri()]
    assert page.facts["empty"] == (
        "Nothing to report yet for this period: no posts were sent, nobody subscribed "
        "and the bot was not used."
    )
    assert page.facts["cards"][0] == ["Posts sent", "0"]
    assert page.facts["charts"] == []
    assert page.facts["scrollWidth"] <= page.facts["innerWidth"]
    assert (tmp_path / "empty.png").read_bytes().startswith(PNG)


def test_a_page_with_an_error_is_caught(browser: Chromium, tmp_path: Path) -> None:
    """The detector itself: a script error, a console error and a request are all seen."""
    page_path = tmp_path / "broken.html"
    page_path.write_text(
        "<!DOCTYPE html><title>x</title><p>x</p>"
        "<img src='missing.png' alt=''>"
        "<script>console.error('boom'); undefinedFunction();</script>",
        encoding="utf-8",
    )
    page = browser.load(page_path.as_uri(), "document.title", tmp_path / "broken.png")
    assert page.facts == "x"
    assert any("boom" in e for e in page.errors)
    assert any("undefinedFunction" in e for e in page.errors)
    assert (tmp_path / "missing.png").as_uri() in page.requests
