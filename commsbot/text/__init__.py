"""Text fidelity: counting, hashtags, HTML to text, escaping, truncation and threads.

Pure functions only: no network, no database, nothing but the stdlib and ``regex``
(the stdlib ``re`` has no grapheme clusters).
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

__all__ = [
    "URL_RE",
    "add_utm",
    "graphemes",
    "hashtag",
    "hashtags",
    "html_to_text",
    "is_valid_telegram_html",
    "mastodon_length",
    "public_text",
    "split_thread",
    "telegram_escape",
    "telegram_fit",
    "telegram_length",
    "telegram_visible",
    "truncate",
    "utf16_length",
    "web_url",
]


class _OnFirstUse:
    """A ``regex`` pattern (Unicode properties, grapheme clusters) compiled when first
    used: importing ``regex`` is ~50 M instructions of a ``run --once`` that has nothing
    to post and uses none of them (#15). Each method, once looked up, is kept as this
    object's attribute, so that later calls cost what the pattern's own do."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __getattr__(self, name: str) -> Any:
        # regex ships no type stubs; "unused-ignore" keeps mypy quiet once types-regex is
        # installed.
        import regex  # type: ignore[import-untyped, unused-ignore]

        value = getattr(regex.compile(self.pattern), name)
        setattr(self, name, value)
        return value


_GRAPHEME_RE: Final[Any] = _OnFirstUse(r"\X")
# Mastodon keeps letters, combining marks and decimal digits in a hashtag ([[:word:]] in Ruby).
_HASHTAG_WORD_RE: Final[Any] = _OnFirstUse(r"[\p{L}\p{M}\p{Nd}]+")
_LETTER_RE: Final[Any] = _OnFirstUse(r"\p{L}")

# Characters a URL may not end with: they close the sentence or the bracket around it.
_URL_TRAILING = ".,;:!?'\u2019\u201d\u00bb\u2026"
URL_RE: Final[re.Pattern[str]] = re.compile(
    r"\bhttps?://"
    # Balanced parentheses stay in (Wikipedia-style paths); unbalanced ones end the URL.
    r"(?:[^\s<>\"()\[\]{}]|\([^\s<>\"()]*\))*"
    rf"(?:[^\s<>\"()\[\]{{}}{_URL_TRAILING}]|\([^\s<>\"()]*\))",
    re.IGNORECASE,
)

# As Mastodon's own counter: a remote mention counts as its local part only.
_MENTION_RE: Final = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)@\w+(?:[.-]+\w+)*", re.IGNORECASE
)

_WHITESPACE_RE: Final = re.compile(r"\s+")
_SENTENCE_END = ".!?…"
_CLOSERS = "\"'\u201d\u2019\u00bb)]"
# Dropped before an ellipsis so a cut never ends in a comma or a dash (en, em) before it.
_TRIM_BEFORE_ELLIPSIS = ",;:-\u2013\u2014"


# Below U+0300 no code point joins another in a cluster except CR LF (UAX #29 rule GB3),
# so Latin text (Polish, Czech, Lithuanian diacritics included) is counted by len().
# Runs of other code points, padded by one neighbour on each side (a prepend mark joins
# the next character, a combining mark the previous one), are segmented by regex; runs
# closer than three characters are merged so that no neighbour is counted twice.
_COMPLEX_RUN_RE: Final = re.compile(r"[^\x00-\u02ff](?:[\x00-\u02ff]{0,2}[^\x00-\u02ff])*")


# Runs up to this many code points are counted through a cache (see graphemes).
_SHORT_RUN = 64


@functools.lru_cache(maxsize=4096)
def _clusters(window: str) -> int:
    """How many clusters a short run (with its two neighbours) holds. Cached: the same few
    emoji and words recur in thousands of posts, and the regex module's cost is in setting
    up each search (about 8,000 instructions for a 3-character run), not in the run."""
    return len(_GRAPHEME_RE.findall(window))


def graphemes(text: str) -> int:
    """Number of user-perceived characters (extended grapheme clusters) in text."""
    size = len(text)
    # CR LF is one cluster; most texts hold no CR, told at a fraction of count()'s cost.
    crlf = "\r" in text
    count = size - text.count("\r\n") if crlf else size
    for run in _COMPLEX_RUN_RE.finditer(text):
        start, end = run.span()
        start = start - 1 if start else 0
        end = end + 1 if end < size else end
        if crlf:
            # A CR LF inside the run is counted as one cluster below: not taken off twice.
            count += text.count("\r\n", start, end)
        if end - start <= _SHORT_RUN:
            # An emoji or a word in another script, between characters that never join
            # it from outside: counted on its own.
            clusters = _clusters(text[start:end])
        else:
            # Counted one match at a time: a list of every cluster of a long run of Cyrillic
            # or emoji would hold the whole text again, as one small string per character.
            clusters = sum(1 for _ in _GRAPHEME_RE.finditer(text, start, end))
        count -= end - start - clusters
    return count


def _mention_free_length(text: str) -> int:
    return graphemes(_MENTION_RE.sub(r"@\1", text))


def mastodon_length(text: str, url_length: int = 23) -> int:
    """Length as Mastodon counts it: graphemes, URLs as url_length, @user@domain as @user."""
    total = 0
    pos = 0
    for match in URL_RE.finditer(text):
        total += _mention_free_length(text[pos : match.start()]) + url_length
        pos = match.end()
    return total + _mention_free_length(text[pos:])


@functools.lru_cache(maxsize=4096)  # the same few tags recur in thousands of posts
def hashtag(tag: str) -> str:
    """A valid CamelCase hashtag for tag, or "" when tag has no letter."""
    # NFC first so a letter written with a combining accent stays one letter.
    normalized = unicodedata.normalize("NFC", tag)
    # An apostrophe joins its word ("don't" -> "Dont"); every other non-word char splits words.
    normalized = normalized.replace("'", "").replace("\u2019", "")
    words: list[str] = _HASHTAG_WORD_RE.findall(normalized)
    # Only the first letter changes, so "eGovernment" and "CrossInnovation" keep their capitals.
    body = "".join(word[0].title() + word[1:] for word in words)
    if not _LETTER_RE.search(body):
        return ""
    return f"#{body}"


def hashtags(tags: Iterable[str]) -> str:
    """Space-joined unique hashtags for tags, in order, de-duplicated case-insensitively."""
    # A template's ``[theme.slug] + item.tags``: the same few lists in thousands of posts,
    # each made hashtags once a run rather than tag by tag for every post (#15).
    return _hashtags(tuple(tags))


@functools.lru_cache(maxsize=4096)
def _hashtags(tags: tuple[str, ...]) -> str:
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        tag_text = hashtag(tag)
        key = tag_text.casefold()
        if tag_text and key not in seen:
            seen.add(key)
            result.append(tag_text)
    return " ".join(result)


_BLOCK_TAGS: Final = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl",
        "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN_TAGS: Final = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    """Collects the text a reader sees, with a space at every block boundary."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and friends: a boundary, but nothing opened that will be closed.
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def parse_html_declaration(self, i: int) -> int:
        # _markupbase raises AssertionError on "<![foo[" and "<![ x"; browsers read a bogus comment.
        try:
            return super().parse_html_declaration(i)
        except AssertionError:
            return self.parse_bogus_comment(i)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: entities decoded, tags gone, whitespace collapsed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


# Format and control characters a reader cannot see: bidirectional overrides, embeddings
# and isolates (U+202A-202E, U+2066-2069) that reorder what follows, marks, zero-width
# spaces, BOMs, soft hyphens, C0/C1 controls. Kept: tab and line feed; ZWNJ and ZWJ, which
# Persian, Indic scripts and emoji sequences (👩‍💻) need; tag characters right after a
# black flag or another tag (🏴 + tags = a subdivision flag); Arabic prepended marks.
_HIDDEN_RE: Final[Any] = _OnFirstUse(
    r"(?![\t\n\u200c\u200d\u0600-\u0605\u06dd\u070f\u08e2])[\p{Cf}\p{Cc}]"
    r"(?<!(?<=[\U0001F3F4\U000E0020-\U000E007F])[\U000E0020-\U000E007F])"
)


def public_text(text: str) -> str:
    """text without the invisible format and control characters that could disguise it."""
    # Printable text (str.isprintable: no Cc, Cf, Z* but the space, unassigned) has none
    # of them, and is told so in a third of the time ``regex`` takes to search it.
    # Line feeds are in nearly every post, tabs in few: the text is copied once without
    # its line feeds, and again without tabs only where it has some.
    flat = text.replace("\n", "")
    if "\t" in flat:
        flat = flat.replace("\t", "")
    if flat.isprintable():
        return text
    cleaned: str = _HIDDEN_RE.sub("", text)
    return cleaned


def telegram_escape(text: str) -> str:
    """Escape &, < and > for Telegram's HTML parse mode (quotes need no escaping there)."""
    return html.escape(text, quote=False)


def _trimmable(char: str) -> bool:
    return char.isspace() or char in _TRIM_BEFORE_ELLIPSIS


def _trim_end(text: str) -> str:
    end = len(text)
    while end and _trimmable(text[end - 1]):
        end -= 1
    return text[:end]


def _cluster_ends(text: str) -> list[int]:
    return [match.end() for match in _GRAPHEME_RE.finditer(text)]


def _ends_sentence(text: str, pos: int) -> bool:
    """Whether the whitespace run at pos follows a sentence end or holds a line break."""
    run = _WHITESPACE_RE.match(text, pos)
    if run is not None and "\n" in run.group():
        return True
    i = pos - 1
    while i >= 0 and text[i] in _CLOSERS:
        i -= 1
    return i >= 0 and text[i] in _SENTENCE_END


def _cut_points(text: str) -> tuple[list[int], list[int], list[int]]:
    """Grapheme, word and sentence cut points of text, none inside a URL; all include len(text)."""
    spans = [(m.start(), m.end()) for m in URL_RE.finditer(text)]
    grapheme_cuts: list[int] = []
    word_cuts: list[int] = []
    sentence_cuts: list[int] = []
    k = 0
    for cut in _cluster_ends(text):
        while k < len(spans) and spans[k][1] <= cut:
            k += 1
        if k < len(spans) and spans[k][0] < cut:
            continue
        grapheme_cuts.append(cut)
        if cut == len(text) or (text[cut].isspace() and not text[cut - 1].isspace()):
            word_cuts.append(cut)
            if cut == len(text) or _ends_sentence(text, cut):
                sentence_cuts.append(cut)
    return grapheme_cuts, word_cuts, sentence_cuts


def _last_fit(
    cuts: Sequence[int], fits: Callable[[int], bool], lo: int = 0, hi: int | None = None
) -> int | None:
    """Largest cut in cuts[lo:hi] that fits, galloping from lo then bisecting.

    Galloping keeps the counted strings near the size of the answer, so a long text
    costs O(log n) counts of short prefixes. A fit found is always checked, so a
    counter that is not monotone can only make the answer shorter, never too long.
    """
    hi = len(cuts) if hi is None else hi
    if lo >= hi or not fits(cuts[lo]):
        return None
    good, bad, step = lo, hi, 1
    while good + step < hi:
        if not fits(cuts[good + step]):
            bad = good + step
            break
        good += step
        step *= 2
    while bad - good > 1:
        mid = (good + bad) // 2
        if fits(cuts[mid]):
            good = mid
        else:
            bad = mid
    return cuts[good]


_SPACE_RE: Final = re.compile(r"\s")
# How far past a window's end a word may run before the window is cut inside it.
_WORD_SLACK = 4096


def _window(text: str, limit: int, counter: Callable[[str], int]) -> str:
    """A prefix of text that already exceeds limit, or the whole text if none does.

    Every cut that can fit lies inside it, so truncating a 5 MB summary to 280 characters
    counts and segments a few kilobytes, not the megabytes. It ends at a space where one
    follows soon, so no URL or word is cut short by the window itself.
    """
    size = 4 * max(limit, 0) + 64
    while size < len(text):
        space = _SPACE_RE.search(text, size, size + _WORD_SLACK)
        end = space.start() if space else size + _WORD_SLACK
        if end >= len(text):
            break
        prefix = text[:end]
        if counter(prefix) > limit:
            return prefix
        size *= 4
    return text


def _standalone(link: str) -> re.Pattern[str]:
    """Pattern for link standing whole in text (not inside a longer URL), with space before."""
    return re.compile(
        rf"\s*(?<![^\s(\[{{\"'\u201c\u2018\u00ab<]){re.escape(link)}(?=[)\]}}\"'>{_URL_TRAILING}]*(?:\s|\Z))"
    )


def _shorten(
    body: str, limit: int, counter: Callable[[str], int], ellipsis: str, suffix: str, after: int = 0
) -> str | None:
    """body cut past index after, plus ellipsis and suffix, within limit; None if nothing fits."""

    def build(cut: int) -> str:
        return _trim_end(body[:cut]) + ellipsis + suffix

    def fits(cut: int) -> bool:
        return counter(build(cut)) <= limit

    # A cut must keep at least one character that _trim_end would not remove.
    first = after
    while first < len(body) and _trimmable(body[first]):
        first += 1
    grapheme_cuts, word_cuts, _ = _cut_points(body)
    word_lo = bisect_right(word_cuts, first)
    # The last word cut is len(body): the uncut text, which was already too long.
    cut = _last_fit(word_cuts, fits, word_lo, len(word_cuts) - 1)
    if cut is None and word_lo < len(word_cuts):
        first_word_end = word_cuts[word_lo]
        cut = _last_fit(
            grapheme_cuts,
            fits,
            bisect_right(grapheme_cuts, first),
            bisect_left(grapheme_cuts, first_word_end),
        )
    return None if cut is None else build(cut)


def truncate(
    text: str,
    limit: int,
    *,
    link: str | None = None,
    counter: Callable[[str], int] = graphemes,
    ellipsis: str = "…",
) -> str:
    """Text followed by a space and link, shortened so that counter(result) <= limit.

    The link is never cut. The text is cut at the last word boundary that fits
    (inside the first word only when that word alone is too long), never inside a
    grapheme cluster or a URL, and gets the ellipsis. A link already standing in
    the text is not added again: the cut falls after it, or if that cannot fit,
    the link moves to the end. If no text fits, the result is the link alone
    (without a link: the ellipsis, or "" when even that is too long).
    """
    # Only a prefix can be kept: the rest of a long text is never counted or segmented.
    window = _window(text, limit, counter)
    whole = window is text
    fits_whole = whole and counter(text) <= limit
    text = window
    if link:
        if counter(link) > limit:
            raise ValueError(f"the link alone does not fit the limit of {limit}: {link!r}")
        standalone = _standalone(link)
        body = text.strip()
        in_text = standalone.search(body)
        if in_text is not None:
            if fits_whole:
                return text
            # Keep at least one word after the link, so the ellipsis never touches the URL.
            kept = _shorten(body, limit, counter, ellipsis, "", in_text.end())
            if kept is not None:
                return kept
            text = standalone.sub("", body)
    elif limit < 0:
        raise ValueError(f"nothing fits a negative limit of {limit}")
    elif fits_whole:
        return text

    body = text.strip()
    if not body:
        return link or ""
    suffix = f" {link}" if link else ""
    if whole and counter(body + suffix) <= limit:
        return body + suffix
    shortened = _shorten(body, limit, counter, ellipsis, suffix)
    if shortened is not None:
        return shortened
    if link:
        return link
    return ellipsis if counter(ellipsis) <= limit else ""


def web_url(value: object) -> str | None:
    """value as a link that is safe to publish: an http(s) URL with a host, else None
    (a ``javascript:`` or ``data:`` URL from another server never becomes a link)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def add_utm(url: str, params: Mapping[str, str]) -> str:
    """url with params added to its query; existing params, same-named ones and fragment kept."""
    # Split by hand: urlsplit/urlunsplit would re-encode or drop parts of the original URL.
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    existing = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
    added = [(name, value) for name, value in params.items() if name not in existing]
    if not added:
        return url
    encoded = urlencode(added, quote_via=quote)
    if query and not query.endswith("&"):
        query += "&"
    return f"{path}?{query}{encoded}{hash_mark}{fragment}"


def _next_cut(
    text: str,
    start: int,
    limit: int,
    counter: Callable[[str], int],
    tail: str,
    cut_points: tuple[list[int], list[int], list[int]],
) -> int:
    """End of the part that starts at start: the best cut where text[start:cut] + tail fits."""
    grapheme_cuts, word_cuts, sentence_cuts = cut_points

    def size(cut: int) -> int:
        return counter(text[start:cut].rstrip() + tail)

    def fits(cut: int) -> bool:
        return size(cut) <= limit

    cut = _last_fit(word_cuts, fits, bisect_right(word_cuts, start))
    if cut is not None:
        # Every sentence end is a word end, so the last one that fits is at or before cut;
        # it is worth the break only if it fills half the part.
        index = bisect_right(sentence_cuts, cut) - 1
        if index >= 0 and sentence_cuts[index] > start:
            sentence_size = size(sentence_cuts[index])
            if 2 * sentence_size >= limit >= sentence_size:
                cut = sentence_cuts[index]
    else:
        first_word_end = word_cuts[bisect_right(word_cuts, start)]
        cut = _last_fit(
            grapheme_cuts,
            fits,
            bisect_right(grapheme_cuts, start),
            bisect_left(grapheme_cuts, first_word_end),
        )
    if cut is None:
        raise ValueError(
            f"cannot split into parts of at most {limit}: {text[start : start + 40]!r} does not fit"
        )
    return cut


def _pack(
    text: str,
    limit: int,
    counter: Callable[[str], int],
    suffix: Callable[[int], str],
    cut_points: tuple[list[int], list[int], list[int]],
) -> list[str]:
    """Greedy split of text into parts with part + suffix(number) within limit."""
    grapheme_cuts = cut_points[0]
    parts: list[str] = []
    start = 0
    while True:
        # Skip whitespace a cluster at a time, so no part starts inside one.
        while start < len(text) and text[start].isspace():
            start = grapheme_cuts[bisect_right(grapheme_cuts, start)]
        if start >= len(text):
            return parts
        cut = _next_cut(text, start, limit, counter, suffix(len(parts) + 1), cut_points)
        parts.append(text[start:cut].rstrip())
        start = cut


def split_thread(
    text: str,
    limit: int,
    *,
    counter: Callable[[str], int] = graphemes,
    numbering: bool = True,
) -> list[str]:
    """Split text into parts within limit (suffix " (i/n)" included), at sentences, then words.

    A part ends at the last sentence end that fits if that fills at least half the
    limit, else at the last word end that fits. It is cut inside a word only when
    the word alone is too long, never inside a URL or a grapheme cluster;
    ValueError names the limit when that cannot be done.
    """
    if counter(text) <= limit:
        return [text]
    cut_points = _cut_points(text)
    if not numbering:
        return _pack(text, limit, counter, lambda number: "", cut_points)
    # The suffix length depends on the number of parts: pack for d-digit totals until it holds.
    digits = 1
    while True:
        total = "9" * digits

        def placeholder(number: int, total: str = total) -> str:
            return f" ({number}/{total})"

        parts = _pack(text, limit, counter, placeholder, cut_points)
        if len(str(len(parts))) <= digits:
            break
        digits = len(str(len(parts)))
    return [f"{part} ({number}/{len(parts)})" for number, part in enumerate(parts, 1)]


_TG_TAGS: Final = frozenset(
    {"a", "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "span",
     "tg-spoiler", "blockquote"}
)  # fmt: skip
_TG_SPECIAL_RE: Final = re.compile(r"[<>&]")
_TG_ENTITY_RE: Final = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);")
_TG_BAD_AMP_RE: Final = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);)")
_TG_TAG_RE: Final = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>=`]+))?)*)\s*>"
)
_TG_ATTR_RE: Final = re.compile(
    r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'<>=`]+)))?"
)


def _tg_attrs(raw: str) -> dict[str, str | None] | None:
    """Attributes of a tag, or None if one repeats or holds a bare &."""
    attrs: dict[str, str | None] = {}
    for match in _TG_ATTR_RE.finditer(raw):
        name = match.group(1).lower()
        quoted = [g for g in match.groups()[1:] if g is not None]
        value = quoted[0] if quoted else None
        if name in attrs or (value is not None and _TG_BAD_AMP_RE.search(value)):
            return None
        attrs[name] = value
    return attrs


def _tg_start_tag_ok(name: str, attrs: dict[str, str | None], stack: list[str]) -> bool:
    """Whether Telegram accepts this start tag with these attributes inside stack."""
    # Telegram allows nothing inside code or pre, except code directly inside pre.
    if stack and stack[-1] == "code":
        return False
    if stack and stack[-1] == "pre" and name != "code":
        return False
    if name == "a":
        return "a" not in stack and set(attrs) == {"href"} and bool(attrs["href"])
    if name == "span":
        return attrs == {"class": "tg-spoiler"}
    if name == "code":
        language = attrs.get("class")
        return not attrs or (
            set(attrs) == {"class"}
            and bool(stack)
            and stack[-1] == "pre"
            and language is not None
            and language.startswith("language-")
        )
    if name == "blockquote":
        return "blockquote" not in stack and set(attrs) <= {"expandable"}
    return not attrs


def is_valid_telegram_html(text: str) -> bool:
    """Whether Telegram's HTML parse mode accepts text: known tags, well nested, valid entities."""
    stack: list[str] = []
    pos = 0
    while (special := _TG_SPECIAL_RE.search(text, pos)) is not None:
        if special.group() == ">":
            return False
        if special.group() == "&":
            entity = _TG_ENTITY_RE.match(text, special.start())
            if entity is None:
                return False
            pos = entity.end()
            continue
        tag = _TG_TAG_RE.match(text, special.start())
        if tag is None:
            return False
        closing, name, raw_attrs = tag.group(1), tag.group(2).lower(), tag.group(3)
        if name not in _TG_TAGS:
            return False
        if closing:
            if raw_attrs.strip() or not stack or stack.pop() != name:
                return False
        else:
            attrs = _tg_attrs(raw_attrs)
            if attrs is None or not _tg_start_tag_ok(name, attrs, stack):
                return False
            stack.append(name)
        pos = tag.end()
    return not stack


_TG_TAG_STRIP_RE: Final = re.compile(r"<[^<>]*>")
# One token of Telegram HTML: a tag, an entity, a run of text, or a stray '<' or '&'.
_TG_TOKEN_RE: Final = re.compile(
    r"<[^<>]*>|&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);|[^<&]+|[<&]"
)
_TG_TAG_NAME_RE: Final = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
_TG_NAMED: Final = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"'}


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _tg_entity(match: re.Match[str]) -> str:
    entity = match.group()
    if entity in _TG_NAMED:
        return _TG_NAMED[entity]
    digits = entity[2:-1]
    try:
        return chr(int(digits[1:], 16) if digits[:1] in "xX" else int(digits))
    except (ValueError, OverflowError):
        return entity  # Telegram keeps an impossible code point literally


def telegram_visible(html: str) -> str:
    """The text a reader sees of Telegram HTML: tags dropped, Telegram's entities decoded."""
    return _TG_ENTITY_RE.sub(_tg_entity, _TG_TAG_STRIP_RE.sub("", html))


def telegram_length(html: str) -> int:
    """Length as Telegram counts a text in HTML parse mode: visible characters in UTF-16 units."""
    return utf16_length(telegram_visible(html))


def _utf16_prefix(text: str, room: int) -> str:
    """The longest run of whole grapheme clusters of text within room UTF-16 units,
    ended at a space when one falls in its second half."""
    end = used = 0
    for match in _GRAPHEME_RE.finditer(text):
        used += utf16_length(match.group())
        if used > room:
            break
        end = match.end()
    kept = text[:end]
    if end < len(text):
        space = kept.rfind(" ")
        if space > len(kept) // 2:
            kept = kept[:space]
    return kept.rstrip()


def telegram_fit(html: str, limit: int, ellipsis: str = "…") -> str:
    """Telegram HTML cut to at most ``limit`` visible UTF-16 units.

    Tags and entities are kept whole, tags left open are closed again, and an ellipsis
    marks the cut; valid input stays valid.
    """
    if telegram_length(html) <= limit:
        return html
    room = limit - utf16_length(ellipsis)
    out: list[str] = []
    stack: list[str] = []
    used = 0
    for match in _TG_TOKEN_RE.finditer(html):
        token = match.group()
        tag = _TG_TAG_NAME_RE.match(token) if token.endswith(">") else None
        if tag is not None:
            if tag.group(1):
                if stack:
                    stack.pop()
            else:
                stack.append(tag.group(2).lower())
            out.append(token)
            continue
        size = telegram_length(token)
        if used + size > room:
            if not _TG_ENTITY_RE.fullmatch(token):
                out.append(_utf16_prefix(token, room - used))
            break
        out.append(token)
        used += size
    return "".join(out) + ellipsis + "".join(f"</{name}>" for name in reversed(stack))


def slugify(text: str) -> str:
    """ASCII slug from a title: 'Plzeň Creative Hub' -> 'plzen-creative-hub'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
