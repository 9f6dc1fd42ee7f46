"""The console in a real browser: Playwright for Python driving Debian's Chromium (by its
path; never ``playwright install``) against the running console and a real store (#17).

The journeys of the issue, axe-core on every page (no serious or critical violation),
no console error (a CSP violation is one), no sideways scrolling at 390 px, and
screenshots of every page at 1280 and 390 px in ``build/web-screenshots``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from commsbot.store import queue_views as qv
from commsbot.web import auth
from tests.support.base import missing_part
from tests.support.browser import playwright_chromium
from tests.support.web import PASSWORD, Live

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / ".ci" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "build" / "web-screenshots"
PAGES = {
    "today": "/",
    "queue": "/queue",
    "post": "/posts/1",
    "compose": "/compose",
    "calendar-week": "/calendar",
    "calendar-month": "/calendar?view=month",
    "stats": "/stats?days=365",
    "content": "/content",
    "content-new": "/content/practice/new",
    "content-news-new": "/content/news/new",
    "feeds": "/feeds",
    "subscribers": "/subscribers",
    "subscribers-remove": "/subscribers?remove=1",
}
WIDTHS = (1280, 390)


def axe_or_skip() -> str:
    if AXE.is_file():
        return AXE.read_text(encoding="utf-8")
    reason = f"axe-core is not installed ({AXE}; .ci/run installs it with npm)"
    missing_part(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_chromium() as launched:
        yield launched


class Person:
    """One signed-in browser context and what went wrong in its pages."""

    def __init__(self, browser: Any, live: Live, name: str, width: int = 1280) -> None:
        self.live = live
        self.context = browser.new_context(
            base_url=live.url, viewport={"width": width, "height": 900}, accept_downloads=True
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.sign_in(name)

    def sign_in(self, name: str, password: str = PASSWORD) -> None:
        self.page.goto("/sign-in")
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def note(self) -> str:
        return str(self.page.locator(".note").inner_text())

    def close(self) -> None:
        self.context.close()


def officer(browser: Any, live: Live, name: str = "ana") -> Person:
    person = Person(browser, live, name)
    assert person.page.locator("h1").inner_text() == "Today"
    return person


def test_officer_journey(browser: Any, live: Live) -> None:
    ana = officer(browser, live)
    page = ana.page
    # Compose for two accounts: both previews, each counted as its platform counts.
    page.get_by_role("link", name="Compose").click()
    text = "General Meeting 5 opens tomorrow in Vilnius: partners from 11 cities"
    page.get_by_label("Text", exact=True).fill(text)
    page.get_by_label("Link (never shortened)").fill("https://example.org/gm5")
    mastodon = page.locator('[data-account="mastodon"] [data-count]')
    mastodon.wait_for()
    assert int(mastodon.inner_text()) == len(text) + 2 + 23
    outbox = page.locator('[data-account="outbox"] [data-count]')
    assert int(outbox.inner_text()) == len(text) + 2 + len("https://example.org/gm5")
    page.get_by_label("Next free slot of each account").check()
    page.get_by_role("button", name="Queue it").click()
    assert "announcement queued" in ana.note()
    # Approve a pending practice post from Today.
    page.get_by_role("link", name="Today").click()
    approve = page.get_by_role("button", name=re.compile(r"^Approve post \d+$")).first
    post_id = int(str(approve.get_attribute("aria-label")).rsplit(" ", 1)[1])
    approve.click()
    assert f"post {post_id} approved" in ana.note()
    assert qv.count_status(live.store, "queued") > 0
    # Move a post in the month calendar with its keyboard-accessible "Move to…" form,
    # the keyboard alone: the post chosen from the form's list, then the new time.
    page.goto("/calendar?view=month")
    move = page.locator("form[data-move]")
    choice = move.get_by_label("Post")
    choice.focus()
    page.keyboard.press("ArrowDown")  # past the empty choice, to the first post
    moved_id = int(choice.input_value())
    assert page.locator(f'[data-post="{moved_id}"]').count() == 1
    move.get_by_label(re.compile(r"^A time")).fill("2031-03-04T10:30")
    move.get_by_role("button", name="Move").press("Enter")
    assert f"post {moved_id} moved to 2031-03-04 10:30" in ana.note()
    assert "view=month" in page.url
    # Cancel a post and restore it, from its page.
    page.goto(f"/posts/{moved_id}")
    page.get_by_role("button", name="Cancel").click()
    assert "cancelled" in ana.note()
    page.get_by_role("button", name="Restore").click()
    assert "restored" in ana.note()
    history = page.locator(".trail").inner_text()
    assert "rescheduled by web:ana" in history and "restored by web:ana" in history
    assert ana.errors == []
    ana.close()


@pytest.mark.parametrize("view", ["week", "month"])
def test_officer_drags_a_post_to_another_day(browser: Any, live: Live, view: str) -> None:
    """Drag and drop sends the page's "Move to…" form for the post: the same route and
    trail as the form used by hand."""
    from commsbot.posting.queue import require_post
    from commsbot.store import audit as audit_q

    post = qv.next_out(live.store, datetime.now(UTC), 1)[0]
    local = datetime.fromisoformat(post["not_before"]).astimezone(live.config.zone)
    ana = officer(browser, live)
    page = ana.page
    # Tall enough for the whole month: a drag does not scroll the page on its way.
    page.set_viewport_size({"width": 1280, "height": 3000})
    page.goto(f"/calendar?view={view}&start={local.date().isoformat()}")
    dragged = page.locator("[data-post]").first
    post_id = int(str(dragged.get_attribute("data-post")))
    before = require_post(live.store, post_id)["not_before"]
    own_day = dragged.locator("xpath=ancestor::li[@data-day]").get_attribute("data-day")
    days = [
        d for d in page.locator("[data-day]").evaluate_all("els => els.map(e => e.dataset.day)")
    ]
    target = days[-1] if days[-1] != own_day else days[-2]
    when = f"{target}T{dragged.get_attribute('data-time')}"
    dragged.drag_to(page.locator(f'[data-day="{target}"] .date'))
    page.wait_for_url(re.compile(r"note="))
    assert f"post {post_id} moved to {when.replace('T', ' ')}" in ana.note()
    assert f"view={view}" in page.url  # back in the view the move was made in
    after = require_post(live.store, post_id)["not_before"]
    moved = datetime.fromisoformat(after).astimezone(live.config.zone)
    assert after != before and moved.strftime("%Y-%m-%dT%H:%M") == when
    last = audit_q.trail(live.store, post_id)[-1]
    assert (last["action"], last["actor"]) == ("rescheduled", "web:ana")
    assert ana.errors == []
    ana.close()


def test_compose_with_two_images_and_an_own_text_in_the_browser(browser: Any, live: Live) -> None:
    """The live preview shows each image with its own alt text, as many as each platform
    shows (the outbox the first), and each account's own text."""
    import io

    from PIL import Image

    ana = officer(browser, live)
    page = ana.page
    page.goto("/compose")
    page.get_by_label("Text", exact=True).fill("Study visit to Plzeň: the creative zone")
    alts = ["Partners in front of the DEPO2015 hall", "The hall's workshop, full"]
    for place, (colour, alt) in enumerate(zip(("green", "blue"), alts, strict=True), 1):
        image = io.BytesIO()
        Image.new("RGB", (8, 6), colour).save(image, "PNG")
        picture = page.get_by_role("group", name=f"Image {place}", exact=True)
        picture.get_by_label("Image file (PNG, JPEG, GIF or WebP)").set_input_files(
            files=[{"name": f"{colour}.png", "mimeType": "image/png", "buffer": image.getvalue()}]
        )
        picture.get_by_label(re.compile("^Alt text")).fill(alt)
    page.locator("summary", has_text="Own text for mastodon").click()
    page.get_by_label("Text for mastodon instead of the one above (leave empty to use it)").fill(
        "Plzeň study visit, for Mastodon"
    )
    mastodon = page.locator('[data-account="mastodon"]')
    mastodon.locator("pre", has_text="for Mastodon").wait_for()
    mastodon.locator(f'img[alt="{alts[1]}"]').wait_for()
    assert [i.get_attribute("alt") for i in mastodon.locator("img").all()] == alts
    outbox = page.locator('[data-account="outbox"]')
    assert [i.get_attribute("alt") for i in outbox.locator("img").all()] == alts[:1]
    assert "Shows 1 of the 2 images" in outbox.locator("[data-images]").inner_text()
    assert outbox.locator("pre").first.inner_text().startswith("Study visit to Plzeň")
    page.get_by_label("Next free slot of each account").check()
    page.get_by_role("button", name="Queue it").click()
    assert "announcement queued" in ana.note()
    assert ana.errors == []
    ana.close()


def test_coordinator_journey(browser: Any, live: Live) -> None:
    cora = Person(browser, live, "cora")
    page = cora.page
    assert page.get_by_role("button", name=re.compile("^Approve")).count() == 0
    # A forged form post, with the session's own CSRF token, is still refused.
    post = qv.by_status(live.store, ("pending_approval",), 1)[0]
    token = page.locator('input[name="csrf"]').first.input_value()
    forged = page.request.post(f"/posts/{post['id']}/approve", form={"csrf": token})
    assert forged.status == 403
    assert qv.by_status(live.store, ("pending_approval",), 1)[0]["id"] == post["id"]
    # The period picker, then a CSV download.
    page.get_by_role("link", name="Stats").click()
    page.get_by_label("Period", exact=True).select_option("7")
    page.get_by_role("button", name="Show").click()
    assert "days=7" in page.url
    with page.expect_download() as info:
        page.get_by_role("link", name="by theme (CSV)").click()
    download = info.value
    assert download.suggested_filename.startswith("commsbot-stats-theme-")
    assert Path(download.path()).read_text(encoding="utf-8").startswith("theme,posts")
    assert cora.errors == []
    cora.close()


def test_sign_in_throttling_and_csrf_rejection(browser: Any, live: Live) -> None:
    eve = Person(browser, live, "ana", 390)
    page = eve.page
    page.get_by_role("button", name="Sign out", exact=True).click()
    for _ in range(5):
        eve.sign_in("ana", "not the password")
        assert "do not match" in page.get_by_role("alert").inner_text()
    eve.sign_in("ana")
    assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()
    # Another officer, whose form's token was tampered with: refused, nothing changed.
    auth.add_user(live.store, "bob", "officer", PASSWORD, datetime.now(UTC))
    bob = officer(browser, live, "bob")
    post = qv.by_status(bob.live.store, ("pending_approval",), 1)[0]
    bob.page.goto(f"/posts/{post['id']}")
    bob.page.locator('.actions input[name="csrf"]').first.evaluate("e => e.value = 'forged'")
    bob.page.get_by_role("button", name="Approve").click()
    assert bob.page.locator("h1").inner_text() == "Form expired"
    assert qv.by_status(live.store, ("pending_approval",), 1)[0]["id"] == post["id"]
    eve.close()
    bob.close()


def axe_violations(page: Any, axe: str) -> list[tuple[str, str, int, str]]:
    """(impact, rule, nodes, first node) of each axe-core violation on the page."""
    # Evaluated by DevTools, which the page's CSP does not govern.
    page.evaluate(axe)
    found: list[tuple[str, str, int, str]] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => [v.impact, v.id, v.nodes.length,"
        " v.nodes[0].target.join(' ')]))"
    )
    return found


def test_the_accessibility_check_finds_a_violation(browser: Any) -> None:
    """The checker itself: an unlabelled field is a critical violation to axe-core."""
    axe = axe_or_skip()
    page = browser.new_page()
    page.set_content("<!doctype html><html lang=en><title>t</title><main><input></main>")
    assert ("critical", "label") in [(i, r) for i, r, _, _ in axe_violations(page, axe)]
    page.close()


# 13 pages at two widths, each with axe-core's full rule set: minutes on a busy machine.
@pytest.mark.timeout(600)
def test_every_page_accessible_responsive_and_photographed(browser: Any, live: Live) -> None:
    axe = axe_or_skip()
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    visits = [("ana", name, path) for name, path in PAGES.items()]
    visits += [
        ("adam", "users", "/users"),
        ("adam", "settings", "/settings"),
        ("", "sign-in", "/sign-in"),
    ]
    for width in WIDTHS:
        ana = Person(browser, live, "ana", width)
        for who, name, path in visits:
            if who != "ana":
                ana.context.clear_cookies()
                if who:
                    ana.sign_in(who)
            ana.page.goto(path)
            ana.page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            wide = ana.page.evaluate("document.documentElement.scrollWidth - innerWidth")
            if wide > 0:
                problems.append(f"{name} at {width} px scrolls sideways by {wide} px")
            problems += [
                f"{name} at {width} px: {impact} {rule} ({n} nodes, e.g. {target})"
                for impact, rule, n, target in axe_violations(ana.page, axe)
                if impact in ("serious", "critical")
            ]
        problems += [f"console error at {width} px: {e}" for e in ana.errors]
        ana.close()
    assert problems == []
    assert len(list(SHOTS.glob("*.png"))) >= len(WIDTHS) * len(visits)
