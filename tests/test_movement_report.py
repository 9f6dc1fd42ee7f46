"""The report's movement section in headless Chromium at a phone's width: the figures of
tests/test_movement.py in its tables, its charts drawn, nothing requested, nothing too wide.
Without chromium the test skips, unless CI=true."""

from __future__ import annotations

from pathlib import Path

from commsbot.store import Store
from tests.support.base import Invoke
from tests.support.browser import Chromium
from tests.support.movement import build_movement

FACTS = """(() => {
  const text = (el) => (el ? el.textContent.replace(/\\s+/g, " ").trim() : null);
  const rows = (id, part = "tbody") =>
    [...document.querySelectorAll(`#${id} ${part} tr`)].map((tr) => [...tr.children].map(text));
  const chart = (id) => {
    const svg = document.querySelector(`svg[data-chart="${id}"]`);
    if (!svg) return null;
    const box = svg.getBoundingClientRect();
    return {
      width: Math.round(box.width),
      marks: svg.querySelectorAll("rect, circle, polyline").length,
      title: text(document.getElementById(`${id}-title`)),
    };
  };
  return {
    note: text(document.querySelector("#movement p.note")),
    cards: [...document.querySelectorAll("#movement-summary li")].map((li) => [
      li.firstChild.textContent.trim(),
      text(li.querySelector("b")),
    ]),
    weeks: rows("table-movement"),
    total: rows("table-movement", "tfoot"),
    voices: rows("table-voices"),
    links: [...document.querySelectorAll("#table-voices a")].map((a) => a.getAttribute("href")),
    languages: rows("table-languages"),
    audience: rows("table-audience"),
    change: rows("table-audience", "tfoot"),
    charts: {
      voices: chart("voices-chart"),
      languages: chart("languages-chart"),
      audience: chart("audience-chart"),
    },
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
})()"""


def test_movement_section_in_chromium(
    browser: Chromium, invoke: Invoke, sample_store: Store, config_path: Path, tmp_path: Path
) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write('\n[movement]\nhashtags = ["CrossInnovation", "CreativeCities"]\n')
    build_movement(sample_store)
    report = tmp_path / "report.html"
    result = invoke(
        "report", "--html", str(report), "--since", "2026-11-09", "--until", "2026-11-29"
    )
    assert result.exit_code == 0, result.output

    page = browser.load(report.as_uri(), FACTS, tmp_path / "movement.png")

    assert page.errors == []
    assert page.requests == [report.as_uri()]
    facts = page.facts
    assert facts["note"].startswith(
        "Who takes the campaign up beyond our own posts: public statuses by other accounts "
        "that use #CrossInnovation, #CreativeCities or mention our account."
    )
    assert facts["cards"] == [
        ["Voices", "5"],
        ["New voices", "4"],
        ["Statuses with the hashtags", "4"],
        ["Mentions", "2"],
        ["Conversations on our posts", "1"],
    ]
    assert facts["weeks"] == [
        ["2026-W46", "2", "2", "0", "0", "2", "2", "4", "1"],
        ["2026-W47", "2", "2", "1", "1", "3", "1", "4", "0"],
        ["2026-W48", "0", "0", "1", "0", "1", "1", "0", "0"],
    ]
    assert facts["total"] == [["period", "4", "3", "2", "1", "5", "4", "8", "1"]]
    assert facts["voices"] == [
        ["1", "alice@vilnius.social", "2", "5", "2026-11-10"],
        ["2", "old@x.social", "1", "2", "2026-10-20"],
        ["3", "carol@tallinn.social", "1", "1", "2026-11-19"],
        ["4", "bob@plzen.social", "1", "0", "2026-11-11"],
        ["5", "dave@linz.social", "1", "0", "2026-11-23"],
    ]
    assert facts["links"][0] == "https://vilnius.social/@alice"
    assert facts["languages"] == [
        ["en", "2", "2", "33.3 %"],
        ["pl", "2", "1", "33.3 %"],
        ["(unknown)", "1", "1", "16.7 %"],
        ["de", "1", "1", "16.7 %"],
    ]
    assert facts["audience"] == [
        ["2026-W46", "110", "\u2013"],  # an en dash: not counted yet
        ["2026-W47", "125", "3"],
        ["2026-W48", "140", "5"],
    ]
    assert facts["change"] == [["change", "+40", "+2"]]

    charts = facts["charts"]
    # New and returning voices: W46 2 new; W47 1 new + 2 returning; W48 1 new.
    assert charts["voices"]["marks"] == 4
    assert charts["languages"]["marks"] == 4
    # Two lines; mastodon has 3 points, e-mail 2 (not counted in W46).
    assert charts["audience"]["marks"] == 2 + 3 + 2
    for drawn in charts.values():
        assert drawn["title"] and 300 <= drawn["width"] <= 390, drawn
    assert facts["scrollWidth"] <= facts["innerWidth"] == 390
