"""The console's forms beyond the queue, over HTTP against the running server (#17):
Compose's image, own texts, link card and thread; the calendar's move in both views;
content import, export and news; feeds add/check/remove; subscribers add/remove; the
admin's settings; the 500 page. Each calls the operation the CLI calls."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from markupsafe import escape

from commsbot.posting.queue import require_post
from commsbot.store import Store
from commsbot.store import audience as audience_q
from commsbot.store import audit as audit_q
from commsbot.store import content as content_q
from commsbot.store import feeds as feeds_q
from commsbot.store import queue_views as qv
from tests.support.feeds import feed_server, item, rss
from tests.support.web import Live, csrf_of, running, sign_in


def png(colour: str = "red") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(out, "PNG")
    return out.getvalue()


def queued_ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 303, response.text
    note = unquote(response.headers["location"]).split("post(s) ", 1)[1]
    return [int(i) for i in note.split(", ")]


# -- compose ----------------------------------------------------------------------------


def test_compose_with_an_image_its_alt_text_and_an_own_text(live: Live) -> None:
    text = "Policy clinic in Linz next week: bring your questions on creative vouchers"
    own = "Linz policy clinic: questions on vouchers welcome (Mastodon's own text)"
    with live.client() as c:
        sign_in(c, "ana")
        data = {
            "csrf": csrf_of(c, "/compose"),
            "text": text,
            "account": ["outbox", "mastodon"],
            "own.mastodon": own,
            "image_alt.1": "A full room at the last policy clinic",
            "when": "next-slot",
        }
        r = c.post("/compose", data=data, files={"image.1": ("clinic.png", png(), "image/png")})
        ids = queued_ids(r)
        posts = {p["channel"]: p for p in (require_post(live.store, i) for i in ids)}
        image = posts["mastodon"]["payload"]["image"]
        # Stored as `queue add --image --alt` stores it: the file's path and the text.
        assert Path(image).read_bytes() == png()
        assert posts["outbox"]["payload"]["image"] == image
        assert posts["mastodon"]["payload"]["image_alt"] == data["image_alt.1"]
        assert posts["mastodon"]["text"].startswith(own)
        assert posts["outbox"]["text"].startswith(text)
        assert audit_q.trail(live.store, ids[0])[0]["actor"] == "web:ana"
        # The post's page shows the image by its console address, not its path.
        page = c.get(f"/posts/{posts['mastodon']['id']}")
        name = Path(image).name
        assert f'src="/images/{name}"' in page.text and str(Path(image).parent) not in page.text
        served = c.get(f"/images/{name}")
        assert served.status_code == 200 and served.content == png()
        assert c.get("/images/..%2Fcommsbot.db").status_code == 404


def test_an_image_needs_alt_text_and_must_be_an_image(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        base = {"csrf": csrf_of(c, "/compose"), "text": "Hello", "account": ["outbox"]}
        no_alt = c.post("/compose", data=base, files={"image.1": ("a.png", png(), "image/png")})
        assert no_alt.status_code == 400 and 'id="err-image_alt.1"' in no_alt.text
        # The upload is kept for the next try: the page names it, so it need not be sent again.
        kept = re.search(r'name="image_name.1" value="([0-9a-f]{64}\.png)"', no_alt.text)
        assert kept
        again = c.post(
            "/compose",
            data={**base, "image_name.1": kept.group(1), "image_alt.1": "A red square"},
        )
        post = require_post(live.store, queued_ids(again)[0])
        assert Path(post["payload"]["image"]).name == kept.group(1)
        fake = c.post(
            "/compose",
            data={**base, "image_alt.1": "x"},
            files={"image.1": ("notes.png", b"not an image", "image/png")},
        )
        assert fake.status_code == 400 and 'id="err-image.1"' in fake.text
        assert "notes.png: not an image file" in fake.text
        alone = c.post("/compose", data={**base, "image_alt.1": "a picture of nothing"})
        assert alone.status_code == 400 and "choose the image too" in alone.text


def test_compose_with_two_images_each_with_its_own_alt_text(live: Live) -> None:
    """Both images go with every post, each with its alt; the post's page shows both
    alts escaped; the previews say how many each platform shows."""
    alts = ['A <b>full</b> room & a "view"', "<script>alert(1)</script> the speakers"]
    with live.client() as c:
        sign_in(c, "ana")
        data = {
            "csrf": csrf_of(c, "/compose"),
            "text": "Two pictures from the policy clinic in Linz",
            "account": ["outbox", "mastodon"],
            "image_alt.1": alts[0],
            "image_alt.2": alts[1],
            "when": "next-slot",
        }
        files = {
            "image.1": ("room.png", png("red"), "image/png"),
            "image.2": ("speakers.png", png("blue"), "image/png"),
        }
        shown = c.post("/compose/preview", data=data, files=files)
        counts = dict(re.findall(r'data-account="([a-z]+)".*?data-images="(\d)"', shown.text, re.S))
        assert counts == {"outbox": "1", "mastodon": "2"}
        ids = queued_ids(c.post("/compose", data=data, files=files))
        for post in (require_post(live.store, i) for i in ids):
            payload = post["payload"]
            assert Path(payload["image"]).read_bytes() == png("red")
            assert [Path(p).read_bytes() for p in payload["images"]] == [png("blue")]
            assert (payload["image_alt"], payload["images_alt"]) == (alts[0], [alts[1]])
        page = c.get(f"/posts/{ids[0]}").text
        for alt in alts:
            assert alt not in page
            assert str(escape(alt)) in page
        assert "<script>alert(1)" not in page and page.count('class="thumb"') == 2


def test_a_fifth_image_and_a_missing_alt_are_refused_beside_their_fields(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        base = {"csrf": csrf_of(c, "/compose"), "text": "Hello", "account": ["outbox"]}
        colours = ["red", "blue", "green", "white", "black"]
        files = {
            f"image.{n}": (f"{n}.png", png(c_), "image/png") for n, c_ in enumerate(colours, 1)
        }
        alts = {f"image_alt.{n}": f"A {c_} square" for n, c_ in enumerate(colours, 1)}
        five = c.post("/compose", data={**base, **alts}, files=files)
        assert five.status_code == 400
        assert re.search(r'id="err-images">an announcement carries at most 4 images<', five.text)
        # The four it takes are kept for the next try; the fifth is not.
        assert len(re.findall(r'name="image_name.\d" value="[0-9a-f]{64}\.png"', five.text)) == 4
        assert 'name="image_name.5"' not in five.text
        one_without = {**alts, "image_alt.2": " "}
        del one_without["image_alt.5"]
        files.pop("image.5")
        missing = c.post("/compose", data={**base, **one_without}, files=files)
        assert missing.status_code == 400
        beside = re.search(
            r'name="image_alt.2".*?</textarea><span class="error" id="err-image_alt.2">([^<]*)<',
            missing.text,
            re.S,
        )
        assert beside and "needs its alt text" in beside.group(1)
        assert 'id="err-image_alt.1"' not in missing.text


def test_previews_show_the_link_card_the_store_knows_and_the_thread(live: Live) -> None:
    practice = content_q.list_items(live.store, "practice", limit=1)[0]
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/compose")

        def fragment(**data: object) -> str:
            r = c.post(
                "/compose/preview",
                data={"csrf": token, "account": ["outbox", "mastodon"], **data},
                headers={"HX-Request": "true"},
            )
            assert r.status_code == 200
            return r.text

        known = fragment(text="Read this", link=practice["url"])
        mastodon = known.split('data-account="mastodon"', 1)[1]
        assert "data-card" in mastodon and practice["title"] in mastodon
        # The outbox is a file: it shows no card.
        assert "data-card" not in known.split('data-account="mastodon"', 1)[0]
        unknown = fragment(text="Read this", link="https://elsewhere.example/page")
        assert "elsewhere.example" in unknown and "knows nothing more" in unknown
        long = fragment(text="word " * 150, **{"own.outbox": "short for the file"})
        assert "data-thread-part" in long.split('data-account="mastodon"', 1)[1]
        assert "short for the file" in long


# Two more file accounts that post only in Polish: one holds an untranslated announcement
# for approval, one skips it (#19).
POLISH = """
[channels.polski]
kind = "outbox"
enabled = true
path = "outbox-pl"
slots = ["daily 11:00"]
languages = ["pl"]
missing_translation = "approve"

[channels.tylko]
kind = "outbox"
enabled = true
path = "outbox-only-pl"
slots = ["daily 12:00"]
languages = ["pl"]
missing_translation = "skip"
"""


@pytest.fixture
def live_polish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    with running(tmp_path, monkeypatch, POLISH) as found:
        yield found


def test_compose_with_a_polish_translation_queues_it_for_the_polish_account(
    live_polish: Live,
) -> None:
    live = live_polish
    text, polish = "The conference opens in Tartu", "Konferencja otwiera się w Tartu"
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/compose")
        page = c.get("/compose").text
        assert 'name="translation.pl"' in page and '<option value="de"' in page
        base = {"csrf": token, "text": text, "language": "en", "when": "next-slot"}

        def preview(account: str, **data: str) -> str:
            r = c.post(
                "/compose/preview",
                data={**base, "account": ["outbox", account], **data},
                headers={"HX-Request": "true"},
            )
            assert r.status_code == 200
            return r.text.split(f'data-account="{account}"', 1)[1]

        # Untranslated: the original, waiting for approval with the reason; or skipped.
        held = preview("polski")
        assert text in held and "Waits for approval: no translation into pl" in held
        assert "posts only in pl" in preview("tylko")
        translated = preview("polski", **{"translation.pl": polish})
        assert (
            polish in translated and text not in translated and 'data-language="pl"' in translated
        )
        assert "Waits for approval" not in translated
        # The text's own language again as a translation is said beside that field.
        twice = c.post("/compose", data={**base, "account": "polski", "translation.en": text})
        assert twice.status_code == 400 and 'id="err-translation.en"' in twice.text
        r = c.post(
            "/compose",
            data={**base, "account": ["outbox", "polski"], "translation.pl": polish},
        )
        posts = {p["channel"]: p for p in (require_post(live.store, i) for i in queued_ids(r))}
    assert posts["polski"]["text"].startswith(polish)
    assert posts["polski"]["payload"]["language"] == "pl"
    assert posts["polski"]["status"] == "queued"
    assert posts["outbox"]["text"].startswith(text)


# -- calendar ---------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["week", "month"])
def test_calendar_moves_posts_with_its_one_move_to_form(live: Live, view: str) -> None:
    """Each view has one "Move to…" form naming the post: every draggable post is one
    of its choices, and sending it moves the post as ``queue edit --at`` does."""
    post = qv.next_out(live.store, datetime.now(UTC), 1)[0]
    start = datetime.fromisoformat(post["not_before"]).astimezone(live.config.zone).date()
    with live.client() as c:
        sign_in(c, "ana")
        page = c.get(f"/calendar?view={view}&start={start.isoformat()}").text
        assert page.count("data-move") == 1 and 'action="/calendar/move"' in page
        movable = re.findall(r'data-post="(\d+)"', page)
        choices = re.findall(r'<option value="(\d+)">', page)
        assert movable and choices == movable
        assert "/static/calendar.js" in page
        assert view == "week" or 'data-slot="' in page  # the week's slots are all taken
        post = require_post(live.store, int(movable[0]))
        r = c.post(
            "/calendar/move",
            data={
                "csrf": csrf_of(c),
                "post": str(post["id"]),
                "at": "2031-05-06T11:15",
                "back": "/calendar",
                "view": view,
                "start": start.isoformat(),
            },
        )
        assert r.status_code == 303
        assert f"/calendar?view={view}&start={start.isoformat()}" in r.headers["location"]
        # A post that is not a number is named in a one-line error; nothing moves.
        bad = c.post(
            "/calendar/move", data={"csrf": csrf_of(c), "post": "x", "at": "2031-05-06T12:00"}
        )
        assert bad.status_code == 400 and "&#39;x&#39; is not a post number" in bad.text
        # A coordinator sees the calendar without a form or a draggable post, and a
        # forged form post is refused.
        c.cookies.clear()
        sign_in(c, "cora")
        seen = c.get(f"/calendar?view={view}").text
        assert "data-move" not in seen and 'draggable="true"' not in seen
        forged = c.post(
            "/calendar/move",
            data={"csrf": csrf_of(c), "post": str(post["id"]), "at": "2031-06-01T10:00"},
        )
        assert forged.status_code == 403
    assert require_post(live.store, post["id"])["not_before"] == "2031-05-06T09:15:00Z"
    last = audit_q.trail(live.store, post["id"])[-1]
    assert (last["action"], last["actor"]) == ("rescheduled", "web:ana")


# -- content ----------------------------------------------------------------------------


def test_export_downloads_what_the_cli_exports(live: Live) -> None:
    from commsbot.content.items import export_csv, export_data

    with live.client() as c:
        sign_in(c, "cora")  # exports are for the coordinator too
        whole = c.get("/content/export.json")
        events = c.get("/content/export.csv?type=event")
        assert c.get("/content/export.xml").status_code == 404
    assert "attachment" in whole.headers["content-disposition"]
    assert whole.json() == json.loads(json.dumps(export_data(live.store)))
    assert events.text.replace("\r\n", "\n") == export_csv(live.store, "event")


CSV_HEAD = "title,city,theme,summary\n"


def test_import_refuses_a_bad_row_by_its_number_beside_the_file(live: Live) -> None:
    before = content_q.count(live.store, "practice")
    body = CSV_HEAD + "Makers' fair,tallinn,brokerage,ok\nBad city,atlantis,brokerage,no\n"
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/content")
        file = {"file": ("practices.csv", body.encode(), "text/csv")}
        r = c.post("/content/import", data={"csrf": token}, files=file)
        assert r.status_code == 400
        error = re.search(r'<span class="error" id="e-file"[^>]*>([^<]+)<', r.text)
        assert error and error.group(1).startswith("practices.csv: row 3")
        assert "atlantis" in error.group(1)
        assert content_q.count(live.store, "practice") == before  # all or none
        skip = c.post("/content/import", data={"csrf": token, "skip_invalid": "yes"}, files=file)
        assert skip.status_code == 200 and "imported 1 practice from practices.csv" in skip.text
        assert "practices.csv: row 3" in skip.text.split("Skipped 1 row:", 1)[1]
        not_utf8 = c.post(
            "/content/import",
            data={"csrf": token},
            files={"file": ("p.csv", CSV_HEAD.encode("utf-16"), "text/csv")},
        )
        assert not_utf8.status_code == 400 and "not UTF-8 text" in not_utf8.text
    assert content_q.count(live.store, "practice") == before + 1


def test_import_of_an_export_in_json(live: Live) -> None:
    rows = [{"guid": "urn:x:1", "title": "Partners meet in Gdynia", "link": "https://x.example/1"}]
    with live.client() as c:
        sign_in(c, "ana")
        r = c.post(
            "/content/import",
            data={"csrf": csrf_of(c, "/content"), "type": "news"},
            files={"file": ("news.json", json.dumps(rows).encode(), "application/json")},
        )
    assert r.status_code == 303 and "imported%201%20news" in r.headers["location"]
    assert content_q.get_item(live.store, "news", "partners-meet-in-gdynia") is not None


def test_news_is_added_and_edited_like_the_other_types(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        assert "/content/news/new" in c.get("/content?type=news").text
        form = c.get("/content/news/new")
        assert form.status_code == 200 and 'name="guid"' in form.text
        token = csrf_of(c, "/content/news/new")
        missing = c.post("/content/news/new", data={"csrf": token, "title": "No guid"})
        assert missing.status_code == 400 and 'id="e-guid"' in missing.text
        added = c.post(
            "/content/news/new",
            data={"csrf": token, "guid": "urn:news:1", "title": "Vilnius joins", "city": "vilnius"},
        )
        assert added.status_code == 303
        slug = content_q.list_items(live.store, "news", filters={"guid": "urn:news:1"})[0]["slug"]
        edited = c.post(
            f"/content/news/{slug}",
            data={"csrf": token, "guid": "urn:news:1", "title": "Vilnius joins the network"},
        )
        assert edited.status_code == 303
    news = content_q.get_item(live.store, "news", slug)
    assert news is not None and news["title"] == "Vilnius joins the network"


# -- feeds ------------------------------------------------------------------------------


def test_feeds_add_check_and_remove(live_feeds: Live) -> None:
    live = live_feeds
    with feed_server() as server, live.client() as c:
        url = server.set("/feed.xml", rss([item("A partner's news", link="https://p.example/1")]))
        sign_in(c, "ana")
        token = csrf_of(c, "/feeds")
        none = c.post("/feeds/check", data={"csrf": token})
        assert none.status_code == 400 and "no feed to check" in none.text
        bad = c.post("/feeds/add", data={"csrf": token, "url": "ftp://x.example/feed"})
        assert bad.status_code == 400 and 'id="err-url"' in bad.text
        city = c.post("/feeds/add", data={"csrf": token, "url": url, "city": "atlantis"})
        assert city.status_code == 400 and 'id="err-city"' in city.text
        added = c.post(
            "/feeds/add", data={"csrf": token, "url": url, "kind": "news", "city": "tallinn"}
        )
        assert added.status_code == 303
        again = c.post("/feeds/add", data={"csrf": token, "url": url})
        assert again.status_code == 400 and "already configured" in again.text
        checked = c.post("/feeds/check", data={"csrf": token, "url": url})
        assert checked.status_code == 303 and "1%20new" in checked.headers["location"]
        assert server.hits and content_q.count(live.store, "news") == 1
        ask = c.post("/feeds/remove", data={"csrf": token, "url": url})
        assert ask.status_code == 303 and feeds_q.get(live.store, url) is not None
        page = c.get(ask.headers["location"])
        assert f"Stop polling {url}" in page.text
        done = c.post("/feeds/remove", data={"csrf": token, "url": url, "confirm": "yes"})
        assert done.status_code == 303 and "removed%20feed" in done.headers["location"]
    assert feeds_q.get(live.store, url) is None
    assert content_q.count(live.store, "news") == 1  # the news it brought stay


# -- subscribers ------------------------------------------------------------------------


def test_subscribers_add_and_remove_with_confirmation(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/subscribers")
        bad = c.post(
            "/subscribers/add",
            data={"csrf": token, "email": "not an address", "frequency": "weekly"},
        )
        assert bad.status_code == 400 and 'id="err-email"' in bad.text
        city = c.post(
            "/subscribers/add",
            data={"csrf": token, "email": "a@x.example", "frequency": "weekly", "city": "nowhere"},
        )
        assert city.status_code == 400 and 'id="err-city"' in city.text
        ok = c.post(
            "/subscribers/add",
            data={
                "csrf": token,
                "email": "Partner@X.example",
                "frequency": "monthly",
                "city": ["tallinn", "linz"],
                "language": "et",
            },
        )
        assert ok.status_code == 303
        found = audience_q.list_subscribers(live.store)[0]
        assert (found["address"], found["frequency"], found["language"]) == (
            "partner@x.example",
            "monthly",
            "et",
        )
        assert sorted(found["cities"]) == ["linz", "tallinn"]
        ask = c.post("/subscribers/remove", data={"csrf": token, "id": str(found["id"])})
        assert ask.status_code == 303
        assert "Unsubscribe partner@x.example" in c.get(ask.headers["location"]).text
        assert audience_q.list_subscribers(live.store)[0]["status"] == "active"
        c.post(
            "/subscribers/remove", data={"csrf": token, "id": str(found["id"]), "confirm": "yes"}
        )
    assert audience_q.list_subscribers(live.store, status=None)[0]["status"] == "unsubscribed"


# -- roles, settings, errors -------------------------------------------------------------


def test_the_coordinator_changes_nothing_even_by_forged_posts(live: Live) -> None:
    before_news = content_q.count(live.store, "news")
    with live.client() as c:
        sign_in(c, "cora")
        token = csrf_of(c)
        for path, data in (
            ("/feeds/add", {"url": "https://feeds.example/rss"}),
            ("/feeds/check", {}),
            ("/feeds/remove", {"url": "https://feeds.example/rss", "confirm": "yes"}),
            ("/subscribers/add", {"email": "a@x.example", "frequency": "weekly"}),
            ("/subscribers/remove", {"id": "1", "confirm": "yes"}),
            ("/content/news/new", {"guid": "g", "title": "t"}),
            ("/compose", {"text": "t", "account": "outbox", "when": "now"}),
        ):
            r = c.post(path, data={"csrf": token, **data})
            assert r.status_code == 403 and "Your role does not allow this" in r.text, path
        imp = c.post(
            "/content/import",
            data={"csrf": token, "type": "news"},
            files={"file": ("n.json", b'[{"guid": "g", "title": "t"}]', "application/json")},
        )
        assert imp.status_code == 403
        page = c.get("/feeds").text + c.get("/subscribers").text + c.get("/content").text
        assert "/feeds/add" not in page and "/subscribers/add" not in page
        assert "/content/import" not in page
        assert c.get("/settings").status_code == 403
    assert feeds_q.all_feeds(live.store) == [] and audience_q.list_subscribers(live.store) == []
    assert content_q.count(live.store, "news") == before_news


def test_settings_show_secrets_by_their_variable_only(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        assert c.get("/settings").status_code == 403
        c.cookies.clear()
        sign_in(c, "adam")
        page = c.get("/settings")
    assert page.status_code == 200
    assert "[channels.mastodon]" in page.text and "http://127.0.0.1:9" in page.text
    assert re.search(
        r"access_token_env</th><td[^>]*>from <code>COMMSBOT_MASTODON_TOKEN</code>: set", page.text
    )
    assert "never-used" not in page.text and "commsbot.db" not in page.text
    assert str(live.config.file.parent) not in page.text
    assert "Europe/Brussels" in page.text and "daily 10:00" in page.text


def test_a_server_error_says_what_to_do_and_shows_nothing_inside(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure the console did not expect: the page says what to do; the message of the
    exception (here naming the store and a secret) goes to the log only."""
    secret = f"{live.config.store.path} token=never-used"

    def broken(store: Store) -> list[dict[str, object]]:
        raise RuntimeError(secret)

    monkeypatch.setattr(feeds_q, "all_feeds", broken)
    with live.client() as c:
        sign_in(c, "ana")
        r = c.get("/feeds")
    assert r.status_code == 500
    assert "nothing you sent was lost" in r.text and "the service log says what failed" in r.text
    assert "Traceback" not in r.text and "RuntimeError" not in r.text
    assert "never-used" not in r.text and str(live.config.store.path) not in r.text
    assert "content-security-policy" in r.headers


HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_hostile_text_is_text_in_the_new_forms_and_previews(live: Live) -> None:
    from commsbot.content.items import add_items
    from commsbot.content.types import TYPES

    link = "https://hostile.example/item"
    news = {"guid": "urn:h", "title": HOSTILE, "summary": HOSTILE, "link": link}
    add_items(live.store, TYPES["news"], [("test", news)], datetime.now(UTC))
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/compose")
        pages = [
            c.get("/content?type=news").text,
            c.post(
                "/compose/preview",
                data={"csrf": token, "text": HOSTILE, "link": link, "account": ["mastodon"]},
                headers={"HX-Request": "true"},
            ).text,
            c.post("/feeds/add", data={"csrf": token, "url": f"https://x.example/{HOSTILE}"}).text,
            c.post("/subscribers/add", data={"csrf": token, "email": HOSTILE}).text,
            c.post(
                "/content/import",
                data={"csrf": token},
                files={"file": (f"{HOSTILE}.csv", b"title\n", "text/csv")},
            ).text,
        ]
    for text in pages:
        assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[1]
