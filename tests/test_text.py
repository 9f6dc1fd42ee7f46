"""Tests for commsbot.text: counting, hashtags, HTML, escaping, truncation and threads."""

from __future__ import annotations

import html
import subprocess
import sys
from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from commsbot.text import (
    URL_RE,
    add_utm,
    graphemes,
    hashtag,
    hashtags,
    html_to_text,
    is_valid_telegram_html,
    mastodon_length,
    split_thread,
    telegram_escape,
    truncate,
)

EN_DASH = "\u2013"
WARSAW = f"Warszawa {EN_DASH} Śródmieście"
TECHIE = "\U0001f469\u200d\U0001f4bb"  # woman technologist: woman, ZWJ, laptop
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
RAINBOW = "\U0001f3f3\ufe0f\u200d\U0001f308"  # rainbow flag: white flag, VS16, ZWJ, rainbow
FLAGS = "\U0001f1f5\U0001f1f1\U0001f1f1\U0001f1f9\U0001f1e8\U0001f1ff\U0001f1ea\U0001f1ea"
PL_FLAG, LT_FLAG = FLAGS[:2], FLAGS[2:4]
PLZEN_COMBINING = "Plzen\u030c"  # n + combining caron, not the precomposed ň
LINK = "https://ex.org/x"
Counter = Callable[[str], int]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Plzeň", 5),
        (PLZEN_COMBINING, 5),
        ("e\u0301", 1),
        (TECHIE, 1),
        (FAMILY, 1),
        (RAINBOW, 1),
        ("\U0001f44d\U0001f3fd", 1),  # thumbs up with a skin tone
        (FLAGS, 4),
        ("\r\n", 1),
        # A CR LF between two emoji lies inside the run the regex counts: one cluster.
        ("\U0001f3a8\r\n\U0001f3a8", 3),
        (WARSAW, 22),
        ("Vilniaus miesto savivaldybė", 27),
        ("Tallinna Ettevõtlusamet", 23),
        ("Hägersten-Liljeholmen", 21),
    ],
)
def test_graphemes(text: str, expected: int) -> None:
    assert graphemes(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://example.org/a.", ["https://example.org/a"]),
        (
            "(https://en.wikipedia.org/wiki/Plzeň_(city)),",
            ["https://en.wikipedia.org/wiki/Plzeň_(city)"],
        ),
        ("Links: http://a.eu/x, https://b.lt/y; done", ["http://a.eu/x", "https://b.lt/y"]),
        ("Ask https://ex.org/?q=1&lang=et!", ["https://ex.org/?q=1&lang=et"]),
        ("Wait https://x.eu/a... and see", ["https://x.eu/a"]),
        ('<a href="https://x.eu/p">', ["https://x.eu/p"]),
        ("\u201chttps://x.eu/p\u201d", ["https://x.eu/p"]),
        ("HTTPS://EX.ORG/A?", ["HTTPS://EX.ORG/A"]),
        ("https://x.eu/a:https://y.eu/b", ["https://x.eu/a:https://y.eu/b"]),
        ("no url: ftp://x.org, www.x.org, https:// or xhttps://x.org", []),
    ],
)
def test_url_re(text: str, expected: list[str]) -> None:
    assert [m.group() for m in URL_RE.finditer(text)] == expected


@pytest.mark.parametrize(
    ("text", "url_length", "expected"),
    [
        (f"Plzeň {TECHIE}", 23, 7),
        ("https://example.org/" + "a" * 100, 23, 23),
        ("See https://x.eu/a and https://y.lt/b.", 23, 4 + 23 + 5 + 23 + 1),
        ("x https://a.eu/b", 10, 12),
        ("Hi @alice@mastodon.social!", 23, 10),
        ("@bob@example.com @carol", 23, 11),
        ("mail: alice@example.org", 23, 23),  # an address, not a mention
        (f"{WARSAW} {PL_FLAG}", 23, 24),
        ("", 23, 0),
    ],
)
def test_mastodon_length(text: str, url_length: int, expected: int) -> None:
    assert mastodon_length(text, url_length) == expected


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("machine-learning", "#MachineLearning"),
        ("creative industries", "#CreativeIndustries"),
        ("plzeň", "#Plzeň"),
        ("#AlreadyTag", "#AlreadyTag"),
        ("3d printing", "#3dPrinting"),
        ("co_working", "#CoWorking"),
        ("eGovernment", "#EGovernment"),
        ("CrossInnovation", "#CrossInnovation"),
        ("2014", ""),
        ("---", ""),
        ("", ""),
        (WARSAW, "#WarszawaŚródmieście"),
        ("Vilniaus miesto savivaldybė", "#VilniausMiestoSavivaldybė"),
        ("Tallinna Ettevõtlusamet", "#TallinnaEttevõtlusamet"),
        ("Hägersten-Liljeholmen", "#HägerstenLiljeholmen"),
        ("e\u0301cole", "#\u00c9cole"),  # combining accent composed, then capitalised
        ("R&D / games", "#RDGames"),
        ("don't stop", "#DontStop"),
        (f"games {TECHIE}!", "#Games"),
        ("AI", "#AI"),
    ],
)
def test_hashtag(tag: str, expected: str) -> None:
    assert hashtag(tag) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (
            ["machine-learning", "Machine Learning", "2014", "plzeň", "PLZEŇ", "design"],
            "#MachineLearning #Plzeň #Design",
        ),
        (["Tallinn", "tallinn", "#Tallinn", "Vilnius"], "#Tallinn #Vilnius"),
        (["---", "2014"], ""),
        ([], ""),
    ],
)
def test_hashtags(tags: list[str], expected: str) -> None:
    assert hashtags(tags) == expected


def test_hashtags_accepts_any_iterable() -> None:
    assert hashtags(tag for tag in ("games", "design")) == "#Games #Design"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<p>foo</p><p>bar</p>", "foo bar"),
        ("a<br>b", "a b"),
        ("a<br/>b", "a b"),
        ("a < b & c", "a < b & c"),
        ("Tom &amp; Jerry &lt;co&gt; it&#8217;s", "Tom & Jerry <co> it\u2019s"),
        ("<ul><li>Plzeň</li><li>Vilnius</li></ul>", "Plzeň Vilnius"),
        ("<h2>Tallinna Ettevõtlusamet</h2><div>Tallinn</div>", "Tallinna Ettevõtlusamet Tallinn"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b c"),
        ("<script>alert('<p>x</p>')</script>ok<style>p{color:red}</style>", "ok"),
        ("<b>bold</b>text", "boldtext"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("<!-- comment -->visible", "visible"),
        ("<![weird[x]]>after", "after"),
        ("<![ x", "<![ x"),
        ("a <", "a <"),
        ("x&nbsp;&nbsp;y\n\n\t z", "x y z"),
        ("<p>Warszawa &ndash; Śródmieście</p>", WARSAW),
        (f"<p>  {TECHIE} {FLAGS}  </p>", f"{TECHIE} {FLAGS}"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, expected: str) -> None:
    assert html_to_text(markup) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("say \"hi\" 'there'", "say \"hi\" 'there'"),
        ("&amp;", "&amp;amp;"),
        (f"Plzeň {TECHIE}", f"Plzeň {TECHIE}"),
    ],
)
def test_telegram_escape(text: str, expected: str) -> None:
    assert telegram_escape(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "plain Plzeň",
        "",
        "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>i</ins>",
        "<s>s</s> <strike>s</strike> <del>d</del> <tg-spoiler>x</tg-spoiler>",
        '<a href="https://x.eu/?a=1&amp;b=2">link</a>',
        "<a href='https://x.eu/'>single quotes</a>",
        '<span class="tg-spoiler">x</span>',
        '<pre><code class="language-python">x = 1</code></pre>',
        "<pre>x</pre> <code>y</code>",
        "<blockquote>q</blockquote> <blockquote expandable>r</blockquote>",
        "<b>bold <i>both</i></b>",
        "a &lt; b &amp;&gt; &quot;x&quot; &#8217; &#x1F600;",
        "<B>upper</B>",
    ],
)
def test_valid_telegram_html(text: str) -> None:
    assert is_valid_telegram_html(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "<p>x</p>",
        "a < b",
        "a > b",
        "a & b",
        "&nbsp;",
        "&amp",
        "<b>x",
        "x</b>",
        "<b><i>x</b></i>",
        "<a>x</a>",
        '<a href="">x</a>',
        '<a href="x" target="_blank">x</a>',
        '<a href="https://x.eu/?a=1&b=2">x</a>',
        '<a href="a"><a href="b">x</a></a>',
        "<span>x</span>",
        '<span class="other">x</span>',
        "<br>",
        '<b class="x">x</b>',
        "<code><b>x</b></code>",
        "<pre><b>x</b></pre>",
        '<code class="language-python">x</code>',
        "<blockquote><blockquote>x</blockquote></blockquote>",
        '<b>x</b class="y">',
        '<a href="x" href="y">x</a>',
    ],
)
def test_invalid_telegram_html(text: str) -> None:
    assert is_valid_telegram_html(text) is False


@pytest.mark.parametrize(
    ("text", "limit", "link", "expected"),
    [
        (f"Plzeň {TECHIE}", 7, None, f"Plzeň {TECHIE}"),
        ("Plzeň", 30, LINK, f"Plzeň {LINK}"),
        ("Plzeň  \n", 30, LINK, f"Plzeň {LINK}"),
        (f"{WARSAW} hosts the policy clinic", 30, LINK, f"Warszawa… {LINK}"),
        (f"{WARSAW} hosts the policy clinic", 30, None, f"{WARSAW} hosts…"),
        (f"{WARSAW} hosts the policy clinic", 12, None, "Warszawa…"),  # the dash goes too
        ("Vilniaus miesto, savivaldybė", 20, None, "Vilniaus miesto…"),
        ("Supercalifragilisticexpialidocious", 10, None, "Supercali…"),
        (TECHIE * 5, 3, None, f"{TECHIE}{TECHIE}…"),
        (FLAGS, 3, None, f"{PL_FLAG}{LT_FLAG}…"),
        (PLZEN_COMBINING * 2, 6, None, f"{PLZEN_COMBINING}…"),  # the caron stays
        (PLZEN_COMBINING * 2, 5, None, "Plze…"),
        (f"Read {LINK}", 30, LINK, f"Read {LINK}"),  # already there: not added again
        (f"Read {LINK} for details about the clinic", 30, LINK, f"Read {LINK} for…"),
        (f"Read {LINK} for details about the clinic", 22, LINK, f"Read… {LINK}"),
        (f"Read {LINK}y now", 50, LINK, f"Read {LINK}y now {LINK}"),  # a longer URL
        ("", 20, LINK, LINK),
        ("   ", 20, LINK, LINK),
        ("Warszawa", 17, LINK, LINK),  # no room for any text
        ("Hi https://example.org/very/long/path", 20, None, "Hi…"),  # URLs are not cut
        ("https://example.org/very/long/path", 20, None, "…"),
        ("Plzeň", 0, None, ""),
    ],
)
def test_truncate(text: str, limit: int, link: str | None, expected: str) -> None:
    assert truncate(text, limit, link=link) == expected


def test_truncate_custom_ellipsis() -> None:
    assert truncate("Vilniaus miesto savivaldybė", 20, ellipsis=" [...]") == "Vilniaus [...]"


def test_truncate_counts_like_mastodon() -> None:
    link = "https://example.org/" + "a" * 200  # counts 23, not 220
    result = truncate("word " * 100, 500, link=link, counter=mastodon_length)
    assert result == " ".join(["word"] * 95) + "… " + link


@pytest.mark.parametrize(("limit", "link"), [(10, "https://example.org/long"), (-1, None)])
def test_truncate_rejects_a_limit_nothing_fits(limit: int, link: str | None) -> None:
    with pytest.raises(ValueError, match=f"limit of {limit}"):
        truncate("Plzeň", limit, link=link)


def test_truncate_counts_only_short_prefixes_of_a_long_text() -> None:
    text = "słowo " * 50_000
    counted: list[int] = []

    def counter(value: str) -> int:
        counted.append(len(value))
        return graphemes(value)

    result = truncate(text, 280, link=LINK, counter=counter)
    assert result == " ".join(["słowo"] * 43) + "… " + LINK
    # The whole text is never counted: work follows the output, not the 300 kB input.
    assert max(counted) < 4 * 280 + 64 + 10
    assert sum(counted) < 20_000


@pytest.mark.parametrize(
    ("text", "limit", "numbering", "expected"),
    [
        (f"Plzeň {TECHIE}", 7, True, [f"Plzeň {TECHIE}"]),
        (
            "Plzeň hosts the study visit. Vilnius hosts the policy clinic. "
            "Tallinn closes the year.",
            40,
            True,
            [
                "Plzeň hosts the study visit. (1/3)",
                "Vilnius hosts the policy clinic. (2/3)",
                "Tallinn closes the year. (3/3)",
            ],
        ),
        (
            "Plzeň hosts the study visit. Vilnius hosts the policy clinic. "
            "Tallinn closes the year.",
            40,
            False,
            [
                "Plzeň hosts the study visit.",
                "Vilnius hosts the policy clinic.",
                "Tallinn closes the year.",
            ],
        ),
        (
            # "Hi." fills less than half a part, so the first part ends at a word instead.
            "Hi. Tallinna Ettevõtlusamet and Vilniaus miesto savivaldybė meet in Plzeň.",
            40,
            False,
            ["Hi. Tallinna Ettevõtlusamet and Vilniaus", "miesto savivaldybė meet in Plzeň."],
        ),
        (
            "Tallinna Ettevõtlusamet\nVilniaus miesto savivaldybė",
            40,
            False,
            ["Tallinna Ettevõtlusamet", "Vilniaus miesto savivaldybė"],
        ),
        (
            "Read more: https://example.org/practices/plzen-creative-hub then reply",
            50,
            False,
            ["Read more:", "https://example.org/practices/plzen-creative-hub", "then reply"],
        ),
        (TECHIE * 10, 4, False, [TECHIE * 4, TECHIE * 4, TECHIE * 2]),
        (
            " ".join(["słowo"] * 60),
            20,
            True,
            [f"słowo słowo ({number}/30)" for number in range(1, 31)],
        ),
    ],
)
def test_split_thread(text: str, limit: int, numbering: bool, expected: list[str]) -> None:
    assert split_thread(text, limit, numbering=numbering) == expected


def test_split_thread_counts_like_mastodon() -> None:
    text = " ".join(["a"] * 10) + " https://example.org/" + "p" * 60
    assert split_thread(text, 25, counter=mastodon_length, numbering=False) == [
        " ".join(["a"] * 10),
        "https://example.org/" + "p" * 60,
    ]


@pytest.mark.parametrize(
    ("text", "limit"),
    [("see https://example.org/" + "a" * 100, 50), ("Plzeň hosts", 5)],
)
def test_split_thread_rejects_what_cannot_fit(text: str, limit: int) -> None:
    # The URL cannot be split; " (1/9)" alone is longer than 5.
    with pytest.raises(ValueError, match=f"at most {limit}"):
        split_thread(text, limit)


def test_split_thread_counts_only_short_parts_of_a_long_text() -> None:
    text = "słowo " * 20_000
    counted: list[int] = []

    def counter(value: str) -> int:
        counted.append(len(value))
        return graphemes(value)

    parts = split_thread(text, 500, counter=counter)
    # 82 words fit beside " (1/246)" to " (99/246)", 81 beside the longer " (100/246)".
    assert len(parts) == 246
    assert parts[0] == " ".join(["słowo"] * 82) + " (1/246)"
    assert parts[99] == " ".join(["słowo"] * 81) + " (100/246)"
    assert parts[-1] == " ".join(["słowo"] * 56) + " (246/246)"
    assert counted[0] == len(text)
    assert max(counted[1:]) <= 2 * 500


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("https://ex.org/a", {"utm_source": "mastodon"}, "https://ex.org/a?utm_source=mastodon"),
        (
            "https://ex.org/a?x=1#frag",
            {"utm_source": "mastodon", "utm_medium": "social"},
            "https://ex.org/a?x=1&utm_source=mastodon&utm_medium=social#frag",
        ),
        (
            "https://ex.org/a?utm_source=newsletter",
            {"utm_source": "mastodon", "utm_campaign": "plzeň 2014"},
            "https://ex.org/a?utm_source=newsletter&utm_campaign=plze%C5%88%202014",
        ),
        ("https://ex.org/?utm_source=a", {"utm_source": "b"}, "https://ex.org/?utm_source=a"),
        ("https://ex.org/a?q=%C5%9Br%C3%B3d+mie&x", {}, "https://ex.org/a?q=%C5%9Br%C3%B3d+mie&x"),
        ("https://ex.org/a?", {"utm_source": "t"}, "https://ex.org/a?utm_source=t"),
        ("https://ex.org/a?x=1&", {"utm_source": "t"}, "https://ex.org/a?x=1&utm_source=t"),
        (
            "https://ex.org/#/route?x=1",
            {"utm_source": "t"},
            "https://ex.org/?utm_source=t#/route?x=1",
        ),
    ],
)
def test_add_utm(url: str, params: dict[str, str], expected: str) -> None:
    assert add_utm(url, params) == expected


# Property tests.

WORDS = [
    "Plzeň",
    WARSAW,
    "Vilniaus",
    "savivaldybė",
    "Ettevõtlusamet",
    "Hägersten-Liljeholmen",
    PLZEN_COMBINING,
    TECHIE,
    FAMILY,
    RAINBOW,
    PL_FLAG + LT_FLAG,
    "end.",
    "why?",
    "(see",
    "it)",
    "https://example.org/practice/42",
    "https://ex.org/a_(b)",
    "@ana@example.social",
    "x" * 30,
]
separators = st.sampled_from([" ", "  ", "\n", "\n\n", " \t"])
words_text = st.lists(st.tuples(st.sampled_from(WORDS), separators), max_size=40).map(
    lambda pairs: "".join(word + sep for word, sep in pairs)
)
counters = st.sampled_from([graphemes, mastodon_length])
links = st.from_regex(r"https://example\.eu/[a-z0-9]{0,40}", fullmatch=True)


@given(st.one_of(st.text(), words_text), st.integers(-5, 200), links, counters)
def test_truncate_keeps_link_within_limit(
    text: str, limit: int, link: str, counter: Counter
) -> None:
    assume(link not in text)
    if counter(link) > limit:
        with pytest.raises(ValueError, match=f"limit of {limit}"):
            truncate(text, limit, link=link, counter=counter)
        return
    result = truncate(text, limit, link=link, counter=counter)
    assert counter(result) <= limit
    assert result.endswith(link)
    assert result in (f"{text.strip()} {link}", link) or result.endswith(f"… {link}")


@given(words_text, st.integers(0, 200), counters)
def test_truncate_without_link_keeps_a_prefix(text: str, limit: int, counter: Counter) -> None:
    result = truncate(text, limit, counter=counter)
    assert counter(result) <= limit
    assert result in (text, text.strip(), "…", "") or (
        result.endswith("…") and text.startswith(result[:-1])
    )


@given(words_text, st.integers(45, 200), counters, st.booleans())
def test_split_thread_keeps_every_word(
    text: str, limit: int, counter: Counter, numbering: bool
) -> None:
    parts = split_thread(text, limit, counter=counter, numbering=numbering)
    assert all(counter(part) <= limit for part in parts)
    if len(parts) > 1 and numbering:
        for number, part in enumerate(parts, 1):
            assert part.endswith(f" ({number}/{len(parts)})")
        parts = [part.rsplit(" (", 1)[0] for part in parts]
    assert "".join("".join(parts).split()) == "".join(text.split())


@given(st.text())
def test_telegram_escape_is_valid_telegram_html(text: str) -> None:
    escaped = telegram_escape(text)
    assert is_valid_telegram_html(escaped)
    assert html.unescape(escaped) == text


HTML_PIECES = [
    "<",
    ">",
    "</",
    "<!",
    "<![",
    "[",
    "]]>",
    "<!--",
    "-->",
    "<?",
    "&",
    "&amp;",
    "&#",
    ";",
    "=",
    '"',
    "'",
    "/",
    " ",
    "\n",
    "p",
    "br",
    "script",
    "style",
    "x",
    "Plzeň",
]
html_like = st.lists(st.sampled_from(HTML_PIECES), max_size=60).map("".join)


@given(st.one_of(st.text(), html_like))
def test_html_to_text_never_raises(markup: str) -> None:
    text = html_to_text(markup)
    assert text == " ".join(text.split())


# Characters that join or break clusters in unusual ways: CR LF, combining marks, ZWJ,
# variation selectors, skin tones, regional indicators, Hangul jamo, an Arabic prepend mark.
_TRICKY = "a\r\nň\u0301\u200d\ufe0f\U0001f3fd\U0001f1f5\U0001f1f1\u1100\u1161\u11a8\u0600😀é "


@given(st.text(alphabet=st.sampled_from(_TRICKY) | st.characters(), max_size=60))
@settings(max_examples=300, deadline=None)
def test_graphemes_fast_path_matches_full_segmentation(text: str) -> None:
    import regex  # type: ignore[import-untyped, unused-ignore]

    assert graphemes(text) == len(regex.findall(r"\X", text))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://mastodon.example/@anna", "https://mastodon.example/@anna"),
        (" http://a.example/x ", "http://a.example/x"),
        ("HTTPS://A.example", "HTTPS://A.example"),
        ("javascript:alert(1)", None),
        ("JavaScript://a.example/%0aalert(1)", None),
        ("data:text/html,<script>", None),
        ("https:///no-host", None),
        ("//a.example/x", None),
        (None, None),
        (42, None),
    ],
)
def test_web_url_keeps_only_http_links_with_a_host(value: object, expected: str | None) -> None:
    from commsbot.text import web_url

    assert web_url(value) == expected


def test_printable_text_holds_no_character_that_public_text_removes() -> None:
    # public_text returns printable text as it is, without searching it: that is right only
    # if no character Python calls printable is one of the hidden ones as ``regex`` reads
    # them (the two read Unicode's tables apart, possibly of different versions).
    import regex  # type: ignore[import-untyped, unused-ignore]

    hidden = regex.compile(r"[\p{Cf}\p{Cc}]")
    printable = "".join(
        chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and chr(cp).isprintable()
    )
    assert len(printable) > 100_000
    assert hidden.search(printable) is None


@given(st.text())
def test_public_text_is_the_regex_removal_of_hidden_characters(text: str) -> None:
    from commsbot.text import _HIDDEN_RE, public_text

    assert public_text(text) == _HIDDEN_RE.sub("", text)
    assert public_text(f"line\n\t{text}") == _HIDDEN_RE.sub("", f"line\n\t{text}")


def test_regex_is_imported_when_a_pattern_is_first_used() -> None:
    # A run with nothing to post imports commsbot.text and uses none of its regex patterns.
    code = (
        "import sys, commsbot.text as t\n"
        "print('regex' in sys.modules)\n"
        "print(t.graphemes('Plze\\u0148 \\U0001f3a8\\u200d'), t.hashtag('Plzeň'), t.public_text('a\\u202eb'))\n"
        "print('regex' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["False", "7 #Plzeň ab", "True"]
