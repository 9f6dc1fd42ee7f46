"""Counting and cutting Telegram HTML the way Telegram reads it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from commsbot.text import (
    is_valid_telegram_html,
    telegram_escape,
    telegram_fit,
    telegram_length,
    telegram_visible,
    utf16_length,
)
from tests.support.telegram_api import parse_html


def test_length_is_visible_text_in_utf16_units() -> None:
    assert telegram_visible("<b>R&amp;D</b> &lt;co&gt; &#39;x&#x27;") == "R&D <co> 'x'"
    assert telegram_length("<b>R&amp;D</b> &lt;co&gt; &#39;x&#x27;") == 12
    assert telegram_length("😀👍🏽") == 6  # astral characters count twice
    assert telegram_length('<a href="https://example.org/?a=1&amp;b=2">here</a>') == 4
    assert telegram_visible("<i>a &quot;b&quot;</i> &copy;") == 'a "b" &copy;'
    assert utf16_length("Plzeň") == 5


def test_fit_leaves_short_text_alone_and_cuts_long_text_closing_tags() -> None:
    assert telegram_fit("<b>short</b>", 10) == "<b>short</b>"
    cut = telegram_fit("<b>Title</b>\n<i>" + "word " * 50 + "</i>", 30)
    assert cut == "<b>Title</b>\n<i>word word word word…</i>"
    assert telegram_fit("&amp;&amp;&amp;&amp;", 3) == "&amp;&amp;…"
    # A cluster is never split: the flag stays whole or goes.
    assert telegram_fit("ab🇨🇿🇨🇿", 5) == "ab…"


def html_fragments() -> st.SearchStrategy[str]:
    text = st.text(max_size=30).map(telegram_escape)
    leaf = st.one_of(
        text,
        text.map(lambda t: f"<b>{t}</b>"),
        text.map(lambda t: f'<a href="https://example.org/?a=1&amp;b=2">{t}</a>'),
        text.map(lambda t: f"<pre><code>{t}</code></pre>"),
    )
    return st.lists(
        st.one_of(leaf, st.lists(leaf, max_size=3).map(lambda p: "<i>" + "".join(p) + "</i>")),
        max_size=8,
    ).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(html=html_fragments(), limit=st.integers(min_value=1, max_value=200))
def test_fit_keeps_valid_html_valid_and_within_the_limit(html: str, limit: int) -> None:
    assert is_valid_telegram_html(html)
    cut = telegram_fit(html, limit)
    assert is_valid_telegram_html(cut)
    assert telegram_length(cut) <= limit
    # Telegram's own parser agrees on what the reader sees.
    assert utf16_length(parse_html(cut)[0]) == telegram_length(cut)
    if telegram_length(html) <= limit:
        assert cut == html
