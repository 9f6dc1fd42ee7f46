"""The report as a coordinator first opens it (#20 item 12), in Playwright driving Debian's
Chromium at a phone's 390 px and a laptop's 1280 px: no horizontal page scroll, every
week's chart has its last week labelled, the city x theme table is not clipped, and the
top posts' titles are not squeezed to a few letters a line. A fresh install's report
says what to enable. Without chromium the tests skip, unless CI=true."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from commsbot.store import Store
from tests.support.base import Invoke
from tests.support.browser import playwright_chromium
from tests.support.stats import build_scenario

# Ten ISO weeks (W39-W48): the x axis labels every other week, and the last.
PERIOD = ("--since", "2026-09-21", "--until", "2026-11-29")

LAYOUT = """(() => {
  const box = (el) => el.getBoundingClientRect();
  const lastLabel = (id) => {
    const svg = document.querySelector(`[data-chart="${id}"]`);
    const ticks = [...svg.querySelectorAll("text.tick[text-anchor=middle]")];
    return ticks.length ? ticks[ticks.length - 1].textContent.trim() : null;
  };
  const heat = document.querySelector("#table-heat");
  const wrap = heat.parentElement;
  const title = document.querySelector("#table-top tbody tr td:nth-child(2)");
  const lineHeight = parseFloat(getComputedStyle(title).lineHeight);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    weeks: [...document.querySelectorAll("#table-weekly tbody th")].map((th) => th.textContent),
    lastWeekLabel: lastLabel("weekly-chart"),
    heatClipped: heat.scrollWidth > wrap.clientWidth + 1 || box(heat).right > box(wrap).right + 1,
    titleLines: Math.round(box(title).height / lineHeight),
    titleText: title.textContent.trim(),
    titleWidth: Math.round(box(title).width),
    themeBars: [...document.querySelectorAll('[data-chart="themes-chart"] g.bar > text:first-of-type')]
      .map((t) => t.textContent),
  };
})()"""


@pytest.fixture
def chromium() -> Iterator[Any]:
    with playwright_chromium() as launched:
        yield launched


def open_report(chromium: Any, path: Path, width: int, shot: Path) -> Any:
    context = chromium.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        page.screenshot(path=str(shot), full_page=True)
        return page.evaluate(LAYOUT)
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_report_fits_phone_and_laptop(
    chromium: Any, invoke: Invoke, sample_store: Store, tmp_path: Path, width: int
) -> None:
    build_scenario(sample_store)
    report = tmp_path / "report.html"
    result = invoke("report", "--html", str(report), *PERIOD)
    assert result.exit_code == 0, result.output

    facts = open_report(chromium, report, width, tmp_path / f"report-{width}.png")

    assert facts["innerWidth"] == width
    assert facts["scrollWidth"] <= width  # no horizontal page scroll
    assert facts["lastWeekLabel"] == facts["weeks"][-1] == "2026-W48"
    if width >= 1280:  # on a phone the table scrolls in its own box, by design
        assert not facts["heatClipped"]
    # The top post's title: whole words a line, not a few letters.
    assert facts["titleText"] == "Lisboa Creative Start-up Seed Fund"
    assert facts["titleWidth"] >= 150 and facts["titleLines"] <= 3, facts
    assert "no theme: events, newsletters and announcements" in facts["themeBars"]


def test_a_fresh_install_says_what_to_enable(invoke: Invoke, store: Store, tmp_path: Path) -> None:
    report = tmp_path / "empty.html"
    result = invoke("report", "--html", str(report))
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert '<p class="note" id="to-enable">Figures come once an account that reports them' in html
    # The movement section says which setting follows the campaign.
    assert "Set <code>[movement] hashtags</code> in the config" in html
