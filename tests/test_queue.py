"""The queue as the comms officer uses it: announce, list, show, approve, edit, cancel, retry."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from commsbot.config import Config
from commsbot.store import Store, from_iso
from commsbot.store import posts as posts_q
from tests.support.base import Invoke


def test_announcement_goes_out_when_due(sample_store: Store, invoke: Invoke) -> None:
    result = invoke(
        "queue",
        "add",
        "General Meeting 5 in Vilnius — Užupis, 2 March 🎉",
        "--link",
        "https://example.org/gm5",
        "--now",
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"post 1 on outbox: queued for \d{4}-\d\d-\d\d \d\d:\d\d CES?T", result.output)
    post = posts_q.get_post(sample_store, 1)
    assert post is not None
    assert (
        post["text"]
        == "General Meeting 5 in Vilnius — Užupis, 2 March 🎉\n\nhttps://example.org/gm5"
    )
    assert from_iso(post["not_before"]) <= datetime.now(UTC)
    shown = invoke("queue", "show", "1")
    assert "General Meeting 5 in Vilnius" in shown.output and "queued" in shown.output
    data = json.loads(invoke("run", "--once", "--json").output)
    assert data["channels"][0]["posted"] == 59
    assert posts_q.get_post(sample_store, 1)["status"] == "sent"  # type: ignore[index]


def test_future_announcement_waits(sample_store: Store, invoke: Invoke) -> None:
    invoke("queue", "add", "Later", "--at", "2999-01-01 09:00")
    invoke("run", "--once")
    assert posts_q.get_post(sample_store, 1)["status"] == "queued"  # type: ignore[index]
    listed = invoke("queue", "list", "--status", "queued")
    assert "announcement-1" in listed.output


def test_edit_cancel_approve_and_their_errors(sample_store: Store, invoke: Invoke) -> None:
    invoke("queue", "add", "Draft text", "--at", "2999-01-01 09:00")
    result = invoke("queue", "edit", "1", "--text", "Better text")
    assert result.exit_code == 0, result.output
    assert posts_q.get_post(sample_store, 1)["text"] == "Better text"  # type: ignore[index]
    too_long = invoke("queue", "edit", "1", "--text", "x" * 501)
    assert too_long.exit_code == 1
    assert "Error: post 1: the text is 501 characters; outbox allows 500" in too_long.output
    approve = invoke("queue", "approve", "1")
    assert approve.exit_code == 1
    assert (
        "post 1 is queued; only a post that is pending_approval or draft can be approved"
        in approve.output
    )
    assert invoke("queue", "cancel", "1").exit_code == 0
    assert posts_q.get_post(sample_store, 1)["status"] == "cancelled"  # type: ignore[index]
    again = invoke("queue", "cancel", "1")
    assert again.exit_code == 1 and "post 1 is cancelled" in again.output
    missing = invoke("queue", "show", "99")
    assert missing.exit_code == 1 and "Error: no post with id 99" in missing.output


def test_pending_approval_post_is_held_until_approved(sample_store: Store, invoke: Invoke) -> None:
    posts_q.change_post(sample_store, 0, ("queued",), datetime.now(UTC))  # no such post: no-op
    invoke("queue", "add", "Needs a look", "--now")
    sample_store.conn.execute("UPDATE posts SET status = 'pending_approval' WHERE id = 1")
    invoke("run", "--once")
    assert posts_q.get_post(sample_store, 1)["status"] == "pending_approval"  # type: ignore[index]
    assert invoke("queue", "approve", "1").exit_code == 0
    invoke("run", "--once")
    assert posts_q.get_post(sample_store, 1)["status"] == "sent"  # type: ignore[index]


def test_bad_queue_arguments(sample_store: Store, invoke: Invoke) -> None:
    result = invoke("queue", "add", "x", "--at", "tomorrowish")
    assert result.exit_code == 2 and "'tomorrowish' is not a time" in result.output
    result = invoke("queue", "add", "x", "--channel", "myspace")
    assert result.exit_code == 1 and "no channel 'myspace' is configured" in result.output
    result = invoke("queue", "add", "x", "--link", "not a link")
    assert result.exit_code == 2 and "is not an http(s) URL" in result.output
    result = invoke("queue", "add", "   ")
    assert result.exit_code == 1 and "an announcement needs some text" in result.output
    assert posts_q.list_posts(sample_store) == []


def test_the_announce_operation_refuses_a_fifth_image_and_a_missing_alt(
    store: Store, config: Config
) -> None:
    """The checks every input goes through (the CLI and the console say them sooner,
    beside their own options and fields); nothing is queued."""
    from commsbot.errors import ContentError, Message
    from commsbot.i18n import speaker
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import announce

    def queue(image_alt: str, more: list[tuple[str, str]]) -> list[int]:
        return announce(
            store,
            config,
            make_channels(config, ["outbox"]),
            "Five pictures",
            at=datetime.now(UTC),
            image="https://example.org/1.png",
            image_alt=image_alt,
            more_images=more,
        )

    further = [(f"https://example.org/{n}.png", f"Picture {n}") for n in range(2, 6)]
    with pytest.raises(ContentError) as five:
        queue("Picture 1", further)
    assert isinstance(five.value.message, Message)
    said = speaker("pl").say(five.value)
    assert (str(five.value), said) == (
        "an announcement carries at most 4 images",
        "ogłoszenie może mieć najwyżej 4 obrazy",
    )
    with pytest.raises(ContentError, match="needs its alt text"):
        queue("Picture 1", [(further[0][0], " ")])
    assert posts_q.count_posts(store) == 0
    (post_id,) = queue("Picture 1", further[:3])
    payload = posts_q.get_post(store, post_id)["payload"]  # type: ignore[index]
    assert payload["images_alt"] == ["Picture 2", "Picture 3", "Picture 4"]
