"""The console over plain HTTP against the running server: sign-in, sessions, CSRF,
roles, throttling, escaping, downloads, and the operations each form calls (#17)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.responses import Response

from commsbot.store import Store
from commsbot.store import audit as audit_q
from commsbot.store import queue_views as qv
from commsbot.web import auth
from commsbot.web.app import Console, set_session_cookie
from tests.support.base import outcomes
from tests.support.web import PASSWORD, Live, Running, csrf_of, make_config, sign_in, sign_in_token

PAGES = (
    "/",
    "/queue",
    "/queue?status=pending_approval&account=mastodon&page=2",
    "/compose",
    "/calendar",
    "/calendar?view=month",
    "/stats",
    "/stats?days=7",
    "/content",
    "/content?type=event",
    "/content?q=games",
    "/feeds",
    "/subscribers",
)


def pending(live: Live) -> dict:  # type: ignore[type-arg]
    return qv.by_status(live.store, ("pending_approval",), 1)[0]


def post_row(live: Live, post_id: int) -> dict:  # type: ignore[type-arg]
    from commsbot.posting.queue import require_post

    return require_post(live.store, post_id)


# -- signing in ---------------------------------------------------------------------


def test_pages_need_a_session(live: Live) -> None:
    with live.client() as c:
        for path in PAGES:
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"].endswith("/sign-in"), path
        r = c.post("/posts/1/cancel", data={"csrf": "x"})
        assert r.status_code == 403 and "Sign in again" in r.text


def test_sign_in_sets_a_strict_http_only_cookie_and_headers(live: Live) -> None:
    with live.client() as c:
        page = c.get("/sign-in")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        r = sign_in(c, "ana")
        assert r.status_code == 303
        cookie = next(v for v in r.headers.get_list("set-cookie") if "commsbot_session" in v)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        assert c.get("/").status_code == 200


def test_wrong_password_and_unknown_user_say_the_same(live: Live) -> None:
    with live.client() as c:
        wrong = sign_in(c, "ana", "not the password")
        unknown = sign_in(c, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text


def test_sign_in_form_needs_its_token(live: Live) -> None:
    with live.client() as c:
        sign_in_token(c)
        r = c.post("/sign-in", data={"name": "ana", "password": PASSWORD, "csrf": "forged"})
        assert r.status_code == 403 and "commsbot_session" not in r.headers.get("set-cookie", "")


def test_throttled_per_user_then_per_address(live: Live) -> None:
    with live.client() as c:
        for _ in range(auth.MAX_FAILURES_PER_USER):
            assert sign_in(c, "ana", "wrong password!").status_code == 401
        # Now even the right password is refused for this name...
        r = sign_in(c, "ana")
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text
        # ...while another user from the same address still gets in.
        assert sign_in(c, "cora").status_code == 303
    with live.client() as c:
        for i in range(auth.MAX_FAILURES_PER_ADDRESS - auth.MAX_FAILURES_PER_USER):
            assert sign_in(c, f"guess{i}", "wrong password!").status_code == 401
        assert sign_in(c, "adam").status_code == 429


def test_the_console_answers_without_nagles_wait(tmp_path: Path) -> None:
    """Connections are accepted with TCP_NODELAY (inherited from the listening socket):
    without it every answer, written as headers then body, waited ~40 ms for the client's
    delayed ACK, more than most pages take to make."""
    import socket

    running = Running(make_config(tmp_path))
    with running as url:
        assert httpx.get(url + "/static/console.css").status_code == 200
        listening = running.server._socket
        assert listening is not None
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_secure_cookie_behind_https(tmp_path: Path) -> None:
    """Behind a TLS proxy at a path: links and the cookie's path carry the path, the
    cookie is Secure, and the proxy-stripped app still answers at its own root."""
    config = make_config(tmp_path, 'base_url = "https://comms.example.org/console/"')
    with Store(config.store.path) as store:
        auth.add_user(store, "ana", "officer", PASSWORD, datetime.now(UTC))
    running = Running(config)
    with running as url:
        assert url == "https://comms.example.org/console"
        with httpx.Client(base_url=f"http://127.0.0.1:{running.server.port}", timeout=30) as c:
            page = c.get("/sign-in")
    assert page.status_code == 200
    assert 'action="/console/sign-in"' in page.text
    assert 'href="/console/static/console.css"' in page.text
    assert "Secure" in page.headers["set-cookie"]
    response = Response()
    set_session_cookie(response, Console(config), "token")
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie and "Path=/console" in cookie


def test_sign_out_everywhere_ends_other_sessions(live: Live) -> None:
    with live.client() as laptop, live.client() as phone:
        sign_in(laptop, "ana")
        sign_in(phone, "ana")
        assert phone.get("/").status_code == 200
        r = laptop.post("/sign-out/everywhere", data={"csrf": csrf_of(laptop)})
        assert r.status_code == 303
        assert phone.get("/").status_code == 303
        assert laptop.get("/").status_code == 303


def test_expired_session_signs_out(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        with live.store.write() as conn:
            conn.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00Z'")
        assert c.get("/").status_code == 303


def test_first_run_link_works_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    now = datetime.now(UTC)
    with Store(config.store.path) as store:
        token = auth.first_run_link(store, now)
        assert token
        with Running(config) as url, httpx.Client(base_url=url, timeout=30) as c:
            r = c.get(f"/sign-in/link?token={token}")
            assert r.status_code == 303
            assert "first-run (officer)" in c.get("/").text
            with httpx.Client(base_url=url, timeout=30) as other:
                again = other.get(f"/sign-in/link?token={token}")
                assert again.status_code == 403 and "works once" in again.text
            # The first-run user has no password: it cannot sign in with one.
            with httpx.Client(base_url=url, timeout=30) as other:
                assert sign_in(other, auth.FIRST_RUN_USER, auth.NO_PASSWORD).status_code == 401
        auth.add_user(store, "ana", "officer", PASSWORD, now)
        assert auth.first_run_link(store, now) is None


# -- CSRF and roles -------------------------------------------------------------------


def test_a_form_without_the_session_token_is_refused(live: Live) -> None:
    post = pending(live)
    with live.client() as c, live.client() as other:
        sign_in(c, "ana")
        sign_in(other, "ana")
        # Another session's token, and the sign-in form's, are not this session's.
        foreign, sign_in_form = csrf_of(other), sign_in_token(live.client())
        for data in ({}, {"csrf": "forged"}, {"csrf": foreign}, {"csrf": sign_in_form}):
            r = c.post(f"/posts/{post['id']}/approve", data=data)
            assert r.status_code == 403 and "reload the page" in r.text, (data, r.headers)
    assert post_row(live, post["id"])["status"] == "pending_approval"


def test_coordinator_cannot_approve_even_by_a_forged_post(live: Live) -> None:
    post = pending(live)
    with live.client() as c:
        sign_in(c, "cora")
        page = c.get("/")
        assert page.status_code == 200 and "/approve" not in page.text  # no button...
        r = c.post(f"/posts/{post['id']}/approve", data={"csrf": csrf_of(c)})
        assert r.status_code == 403 and "Your role does not allow this" in r.text  # ...nor way
        bulk = c.post(
            "/queue/bulk", data={"csrf": csrf_of(c), "action": "approve", "post": [str(post["id"])]}
        )
        assert bulk.status_code == 403
        assert c.get("/users").status_code == 403
        assert c.get("/stats/download.csv").status_code == 200
    assert post_row(live, post["id"])["status"] == "pending_approval"


def test_admin_sees_users_but_cannot_change_posts(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "adam")
        users = c.get("/users")
        assert users.status_code == 200 and "cora" in users.text and "argon2" not in users.text
        r = c.post(f"/posts/{pending(live)['id']}/cancel", data={"csrf": csrf_of(c)})
        assert r.status_code == 403


# -- what the forms do -----------------------------------------------------------------


def test_officer_approves_and_the_audit_trail_says_who(live: Live) -> None:
    post = pending(live)
    with live.client() as c:
        sign_in(c, "ana")
        r = c.post(f"/posts/{post['id']}/approve", data={"csrf": csrf_of(c), "back": "/"})
        assert r.status_code == 303 and "approved" in r.headers["location"]
        page = c.get(f"/posts/{post['id']}")
    assert post_row(live, post["id"])["status"] == "queued"
    steps = [(s["action"], s["actor"]) for s in audit_q.trail(live.store, post["id"])]
    assert steps == [("created", "service"), ("approved", "web:ana")]
    assert "approved by web:ana" in page.text


def test_bulk_cancel_then_restore(live: Live) -> None:
    ids = [p["id"] for p in qv.by_status(live.store, ("pending_approval",), 3)]
    with live.client() as c:
        sign_in(c, "ana")
        r = c.post(
            "/queue/bulk",
            data={"csrf": csrf_of(c), "action": "cancel", "post": [str(i) for i in ids]},
        )
        assert r.status_code == 303 and "3%20posts%20cancelled" in r.headers["location"]
        assert all(post_row(live, i)["status"] == "cancelled" for i in ids)
        c.post(f"/posts/{ids[0]}/restore", data={"csrf": csrf_of(c)})
    # A practice waits for approval again: its policy asks for it.
    assert post_row(live, ids[0])["status"] == "pending_approval"
    actions = [s["action"] for s in audit_q.trail(live.store, ids[0])]
    assert actions[-2:] == ["cancelled", "restored"]


def test_compose_for_two_accounts_with_previews(live: Live) -> None:
    text = "Study visit to Tallinn: the Creative Incubator opens its doors to 40 partners"
    with live.client() as c:
        sign_in(c, "ana")
        token = csrf_of(c, "/compose")
        data = {
            "csrf": token,
            "text": text,
            "link": "https://example.org/visit",
            "account": ["outbox", "mastodon"],
        }
        frag = c.post("/compose/preview", data=data, headers={"HX-Request": "true"})
        assert frag.status_code == 200 and frag.text.startswith('<div id="previews"')
        # Mastodon counts the link as 23 characters; the outbox counts every one.
        counts = dict(
            re.findall(r'data-account="(\w+)".*?<span data-count>(\d+)</span>', frag.text, re.S)
        )
        assert int(counts["mastodon"]) == len(text) + 2 + 23
        assert int(counts["outbox"]) == len(text) + 2 + len("https://example.org/visit")
        r = c.post("/compose", data={**data, "when": "next-slot"})
        assert r.status_code == 303
    from urllib.parse import unquote

    note = unquote(r.headers["location"]).split("post(s) ", 1)[1]
    ids = [int(i) for i in note.split(", ")]
    rows = [post_row(live, i) for i in ids]
    assert sorted(p["channel"] for p in rows) == ["mastodon", "outbox"]
    assert all(p["status"] == "queued" and p["text"].startswith(text) for p in rows)
    assert audit_q.trail(live.store, ids[0])[0]["actor"] == "web:ana"


def test_compose_errors_are_shown_beside_the_fields(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        r = c.post(
            "/compose",
            data={"csrf": csrf_of(c), "text": " ", "link": "ftp://x", "when": "at", "at": "soon"},
        )
    assert r.status_code == 400
    assert 'id="err-text"' in r.text and 'id="err-account"' in r.text
    assert 'id="err-link"' in r.text and 'id="err-at"' in r.text


def test_move_to_another_time_is_recorded(live: Live) -> None:
    post = qv.next_out(live.store, datetime.now(UTC), 1)[0]
    with live.client() as c:
        sign_in(c, "ana")
        r = c.post(
            f"/posts/{post['id']}/edit",
            data={"csrf": csrf_of(c), "at": "2031-05-06T11:15", "back": "/calendar"},
        )
        assert r.status_code == 303 and "/calendar" in r.headers["location"]
    assert post_row(live, post["id"])["not_before"] == "2031-05-06T09:15:00Z"
    last = audit_q.trail(live.store, post["id"])[-1]
    assert (last["action"], last["actor"]) == ("rescheduled", "web:ana")


def test_downloads(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "cora")
        csv_ = c.get("/stats/download.csv?by=theme&days=90")
        json_ = c.get("/stats/download.json?by=city")
        report = c.get("/stats/report?days=30")
    assert csv_.headers["content-type"].startswith("text/csv")
    assert csv_.text.splitlines()[0].startswith("theme,posts")
    assert "attachment" in csv_.headers["content-disposition"]
    assert json_.json()["by"] == "city"
    assert report.text.startswith("<!doctype html>") or report.text.startswith("<!DOCTYPE html>")


# -- quality bars -----------------------------------------------------------------------


HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(2)>')


def test_hostile_titles_are_text_on_every_page(live: Live) -> None:
    from commsbot.content.items import add_items
    from commsbot.content.types import TYPES

    now = datetime.now(UTC)
    items = [
        ("test", {"title": title, "city": "tallinn", "theme": "brokerage", "summary": title})
        for title in HOSTILE
    ]
    add_items(live.store, TYPES["practice"], items, now)
    from commsbot.posting.pipeline import make_channels, plan
    from commsbot.render import Renderer

    plan(live.store, live.config, Renderer(), make_channels(live.config), now)
    hostile_posts = [
        p["id"]
        for p in qv.by_status(live.store, ("pending_approval",), 10_000)
        if "alert(" in p["text"]
    ]
    assert hostile_posts
    with live.client() as c:
        sign_in(c, "ana")
        for path in (
            *PAGES,
            "/content?q=alert",
            f"/posts/{hostile_posts[0]}",
            "/queue?status=pending_approval&page=2",
        ):
            text = c.get(path).text
            assert "<script>alert" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/posts/{hostile_posts[0]}").text


def test_no_secret_or_store_path_on_any_page(live: Live) -> None:
    folder = str(live.config.file.parent)
    with live.client() as c:
        sign_in(c, "adam")
        for path in (*PAGES, "/users", "/posts/1", "/nothing-here"):
            text = c.get(path).text
            assert folder not in text and "never-used" not in text and "commsbot.db" not in text, (
                path
            )
            assert "$argon2" not in text


def test_error_pages_say_what_to_do(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        missing = c.get("/nothing-here")
        no_post = c.get("/posts/999999")
        bad_date = c.get("/stats?since=yesterday")
    assert missing.status_code == 404 and "Use the menu" in missing.text
    assert no_post.status_code == 404 and "The queue lists every post" in no_post.text
    assert bad_date.status_code == 400 and "is not a date" in bad_date.text
    assert "content-security-policy" in missing.headers


@pytest.mark.parametrize("path", ["/static/htmx.min.js", "/static/console.css"])
def test_static_files_are_served(live: Live, path: str) -> None:
    with live.client() as c:
        assert c.get(path).status_code == 200


def test_expiry_is_slid_forward_on_use(live: Live) -> None:
    with live.client() as c:
        sign_in(c, "ana")
        with live.store.write() as conn:
            conn.execute("UPDATE sessions SET seen_at = '2000-01-01T00:00:00Z'")
        c.get("/")
        expires = live.store.scalar("SELECT expires_at FROM sessions")
    assert datetime.fromisoformat(expires) > datetime.now(UTC) + timedelta(hours=11)


def test_stats_follow_what_the_service_records(live: Live) -> None:
    """The stats page's figures are kept between views only until the store changes."""
    from commsbot.store import posts as posts_q

    def sent(c: httpx.Client) -> str:
        found = re.search(r"Posts sent</th><td[^>]*>([\d,]+)<", c.get("/stats?days=7").text)
        assert found
        return found.group(1)

    with live.client() as c:
        sign_in(c, "cora")
        before = sent(c)
        post = qv.next_out(live.store, datetime.now(UTC), 1)[0]
        with live.store.write() as conn:
            conn.execute("UPDATE posts SET status = 'sending' WHERE id = ?", (post["id"],))
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        posts_q.record_outcomes(
            live.store,
            outcomes({"id": post["id"], "status": "sent", "attempts": 1, "sent_at": stamp}),
            datetime.now(UTC),
        )
        assert int(sent(c).replace(",", "")) == int(before.replace(",", "")) + 1


def test_every_response_states_its_server_time(live: Live) -> None:
    """``Server-Timing: app;dur=<ms>`` on pages, files and errors, and nothing more in it."""
    with live.client() as c:
        responses = [c.get("/sign-in"), c.get("/static/console.css"), c.get("/nothing-here")]
        sign_in(c, "cora")
        responses += [c.get("/stats?days=7"), c.get("/queue")]
    for r in responses:
        found = re.fullmatch(r"app;dur=(\d+\.\d)", r.headers["server-timing"])
        assert found, (r.url, r.headers["server-timing"])
        assert 0 <= float(found.group(1)) < 60_000, r.url
        assert len(r.headers.get_list("server-timing")) == 1, r.url
