"""The Stats page and the console's notes in the user's language (#19): headings, labels
and figures as a German reader writes them; what an action did, said in Polish."""

from __future__ import annotations

import re
from urllib.parse import unquote

from commsbot.store import movement as movement_q
from commsbot.store import queue_views as qv
from tests.support.stats import at
from tests.support.web import Live, csrf_of, sign_in


def test_the_stats_page_in_german(live: Live) -> None:
    movement_q.add_audience(live.store, [("mastodon", "audience", 12345)], at("2026-11-20 12:00"))
    with live.client() as c:
        c.headers["Accept-Language"] = "de"
        sign_in(c, "cora")
        page = c.get("/stats?since=2026-11-09&until=2026-11-29").text
    assert '<html lang="de">' in page
    assert "<title>Statistik · commsbot</title>" in page
    # The period as German writes a day, the zone named.
    assert re.search(r"<h1>Statistik: 0?9\.[^<]*2026 bis 29\.[^<]*2026 \([\w/]+\)</h1>", page)
    assert '<label for="days">Zeitraum</label>' in page and ">letzte 30 Tage</option>" in page
    assert '<button type="submit">Anzeigen</button>' in page
    assert re.search(r"<caption>Dieser Zeitraum und der vorige \(\d\d?\.[^)]* bis 0?8\.", page)
    assert '<th scope="col">Voriger Zeitraum</th>' in page and ">Gesendete Beiträge</th>" in page
    assert "<caption>Nach Kanal</caption>" in page and ">nach Kanal (CSV)</a>" in page
    assert '<h2 id="audience">Wachstum des Publikums</h2>' in page
    # German groups thousands with a dot: 12.345, never 12,345.
    assert re.search(r">12\.345</td>", page), page
    assert "12,345" not in page and ">Herunterladen:" in page
    for english in ("This period", "Previous period", "Download:", "Top posts", ">Show<"):
        assert english not in page, english


def test_an_actions_note_in_polish(live: Live) -> None:
    first, second, third = qv.by_status(live.store, ("pending_approval",), 3)[:3]
    with live.client() as c:
        sign_in(c, "ana")
        c.post("/language", data={"csrf": csrf_of(c), "language": "pl"})
        one = c.post(f"/posts/{first['id']}/approve", data={"csrf": csrf_of(c), "back": "/queue"})
        assert one.status_code == 303
        assert unquote(one.headers["location"]).endswith(f"note=wpis {first['id']} zatwierdzony")
        shown = c.get(one.headers["location"]).text
        assert f'<p class="note" role="status">wpis {first["id"]} zatwierdzony</p>' in shown
        two = c.post(
            "/queue/bulk",
            data={"csrf": csrf_of(c), "action": "cancel", "post": [second["id"], third["id"]]},
        )
        # Polish's plural for 2: "wpisy ... anulowane" (5 would be "wpisów ... anulowanych").
        assert unquote(two.headers["location"]).endswith("note=2 wpisy anulowane")
