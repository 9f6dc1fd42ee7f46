"""Rendering to a channel's limit: fixed hashtags, threads and truncation (pure, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from commsbot.channels.base import Channel
from commsbot.channels.mastodon import MastodonChannel, MastodonSettings
from commsbot.channels.outbox import OutboxChannel, OutboxSettings
from commsbot.errors import TemplateError
from commsbot.render import Output, Renderer
from commsbot.text import graphemes

LINK = "https://ci.example/a"
STORY = (
    "Designers and manufacturers meet every month in an old factory. Each meeting starts "
    "with a short demo. Then teams work on one problem a firm brought. After three hours "
    "every team shows a sketch of a solution, and the best ideas get a voucher. 🎨"
)


def outbox(tmp_path: Path, **settings: Any) -> OutboxChannel:
    return OutboxChannel(OutboxSettings(enabled=True, path=tmp_path, **settings))


def announce(channel: Channel, text: str, link: str | None = LINK) -> Output:
    return Renderer().render(
        channel, "announcement", {"text": text}, link=link, what="the announcement"
    )


def test_fixed_hashtags_come_before_the_link(tmp_path: Path) -> None:
    channel = outbox(tmp_path, hashtags=("cross-innovation", "Design"))

    assert announce(channel, "Hello").text == f"Hello\n\n#CrossInnovation #Design\n\n{LINK}"


def test_hashtags_the_post_has_are_not_repeated(tmp_path: Path) -> None:
    channel = outbox(tmp_path, hashtags=("cross-innovation", "Design"))

    out = announce(channel, "Meet the #crossinnovation crowd")

    assert out.text == f"Meet the #crossinnovation crowd\n\n#Design\n\n{LINK}"


def test_hashtags_join_a_last_line_of_hashtags(tmp_path: Path) -> None:
    channel = outbox(tmp_path, hashtags=("cross-innovation",))

    out = announce(channel, "Hello\n\n#Games #Design")

    assert out.text == f"Hello\n\n#Games #Design #CrossInnovation\n\n{LINK}"


def test_a_long_post_becomes_a_numbered_thread_with_the_link_and_tags_first(
    tmp_path: Path,
) -> None:
    channel = outbox(tmp_path, max_length=120, long_posts="thread", hashtags=("cross-innovation",))

    out = announce(channel, STORY)

    parts = [out.text, *out.thread]
    total = len(parts)
    assert total == 5
    assert out.text.endswith(f" (1/5)\n\n#CrossInnovation\n\n{LINK}")
    assert [p.endswith(f" ({n}/5)") for n, p in enumerate(parts[1:], 2)] == [True] * 4
    assert [graphemes(p) <= 120 for p in parts] == [True] * 5
    assert (out.truncated, out.length, out.payload()["thread"]) == (
        False,
        graphemes(out.text),
        list(out.thread),
    )
    words = [out.text.split(" (1/5)")[0]] + [p.rsplit(" (", 1)[0] for p in parts[1:]]
    assert " ".join(words) == STORY


def test_truncation_keeps_the_hashtags_and_the_link(tmp_path: Path) -> None:
    channel = outbox(tmp_path, max_length=120, hashtags=("cross-innovation",))

    out = announce(channel, STORY)

    assert out.text == (
        "Designers and manufacturers meet every month in an old factory. Each meeting…"
        f"\n\n#CrossInnovation\n\n{LINK}"
    )
    assert (out.truncated, out.thread) == (True, ())


def test_a_link_and_hashtags_longer_than_the_limit_are_an_error(tmp_path: Path) -> None:
    channel = outbox(tmp_path, max_length=30, hashtags=("cross-innovation",))

    with pytest.raises(TemplateError) as error:
        announce(channel, STORY)

    assert str(error.value) == (
        "the announcement on outbox: the link and hashtags alone exceed the limit of 30"
    )


def test_mastodon_counts_every_link_as_23_characters() -> None:
    channel = MastodonChannel(MastodonSettings(api_base_url="https://mastodon.example"))
    link = "https://cross-innovation.example/practices/a-rather-long-practice-slug-2014"
    text = "x" * 474

    out = announce(channel, text, link)

    assert (out.text, out.length, out.limit) == (f"{text}\n\n{link}", 499, 500)
    assert graphemes(out.text) == 551


def test_the_items_language_goes_with_the_post(tmp_path: Path) -> None:
    item = {
        "title": "Kūrybinės dirbtuvės",
        "summary": "Ąžuolų gatvėje",
        "tags": [],
        "language": "lt",
        "image": "images/a.png",
    }
    context = {
        "item": item,
        "city": {"name": "Vilnius"},
        "theme": {"name": "Brokerage", "slug": "brokerage"},
    }

    out = Renderer().render(outbox(tmp_path), "practice", context, link=LINK, what="it")

    assert out.payload() == {
        "link": LINK,
        "title": "Kūrybinės dirbtuvės",
        "image": "images/a.png",
        "image_alt": "Ąžuolų gatvėje",
        "thread": [],
        "language": "lt",
    }


@pytest.mark.parametrize(
    "filler", ["<tag> & more ", "Plzeň <co>lab 👩\u200d💻 ", "x&y<z>" * 3 + " "]
)
def test_a_long_telegram_post_is_cut_in_its_text_not_its_escaped_html(filler: str) -> None:
    """Cut the text, then escape: no entity or tag split, the link kept (#14 item 2)."""
    from commsbot.channels.telegram import TelegramChannel, TelegramSettings
    from commsbot.text import (
        is_valid_telegram_html,
        telegram_length,
        telegram_visible,
        utf16_length,
    )

    channel = TelegramChannel(TelegramSettings())
    link = "https://ci.example/n?a=1&b=2"
    cut = 0
    for size in range(4000, 4200, 7):  # every place the cut can fall in the filler
        summary = (filler * (size // len(filler) + 1))[:size]
        # An announcement prints its whole text: the post as a whole is cut to fit.
        text = f"Newsletter <7>\n\n{summary}"
        out = Renderer().render(channel, "announcement", {"text": text}, link=link, what="n")
        assert is_valid_telegram_html(out.text), out.text[-80:]
        assert telegram_length(out.text) <= 4096
        shown = telegram_visible(out.text)
        assert shown.endswith(("…" if out.truncated else summary.strip()) + "\n\n" + link)
        if out.truncated:
            kept = shown.split("\n\n", 1)[1].rsplit("…", 1)[0]
            assert summary.startswith(kept) and utf16_length(kept) > 3900
            cut += 1
    assert cut > 20


def news_post(channel: Channel, summary: str, tags: list[str]) -> Output:
    item = {"slug": "n", "title": "Plzeň lab", "summary": summary, "tags": tags, "link": LINK}
    context = {"item": item, "city": None, "theme": None}
    return Renderer().render(channel, "news", context, link=LINK, what="news 'n'")


def test_a_feeds_categories_follow_the_channels_hashtags_each_once(tmp_path: Path) -> None:
    channel = outbox(tmp_path, hashtags=("CrossInnovation",))
    tags = ["machine-learning", "web.dev", "Machine Learning", "cross innovation", "2026"]

    out = news_post(channel, "Designers met coders.", tags)

    assert out.text == (
        f"Plzeň lab\n\nDesigners met coders.\n\n#CrossInnovation #MachineLearning #WebDev\n\n{LINK}"
    )


def test_categories_give_way_before_the_text_and_the_link(tmp_path: Path) -> None:
    channel = outbox(tmp_path, max_length=90, hashtags=("CrossInnovation",))
    summary = "Designers met coders."

    whole = news_post(channel, summary, ["machine-learning", "web.dev"])
    assert whole.text == f"Plzeň lab\n\n{summary}\n\n#CrossInnovation #MachineLearning\n\n{LINK}"
    assert not whole.truncated and graphemes(whole.text) <= 90

    tight = news_post(
        outbox(tmp_path, max_length=75, hashtags=("CrossInnovation",)), summary, ["web.dev"]
    )
    assert tight.text == f"Plzeň lab\n\n{summary}\n\n#CrossInnovation\n\n{LINK}"
