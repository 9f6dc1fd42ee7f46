"""Feed ingestion: partner feeds -> the store (news and newsletters), nothing else.

Each due feed is fetched with a conditional GET and, only when it changed, parsed with
feedparser, in worker threads. Its entries are then written in one transaction: an entry
is stored once (identity by guid, else link, else a hash of title and date); an edit
updates the stored item and is never posted again, since posting selects items that have
no post yet. A failing feed backs off exponentially and is disabled after
``[ingest] max_failures`` failures in a row; other feeds are unaffected.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser

from commsbot.clock import Clock, utcnow
from commsbot.config import Config, IngestConfig
from commsbot.errors import N_, ContentError
from commsbot.feeds.fetch import Fetched, fetch
from commsbot.store import Store, iso
from commsbot.store import feeds as feeds_q
from commsbot.store.feeds import EntryRow, Stored
from commsbot.text import html_to_text, public_text, slugify

if TYPE_CHECKING:
    from commsbot.service.jobs import JobContext

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
# A guid with a scheme (http:, tag:, urn:) names itself; a bare one ("1234") only means
# something inside its feed.
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S")
# How a whole RSS, Atom or RDF document ends.
_ROOT_END = re.compile(rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)\s*>\s*\Z")


# -- parsing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A feed document as entries for the store, or why it is not a feed."""

    entries: list[EntryRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # Whether feedparser had to recover from a malformed document.
    bozo: bool = False


def parse(
    body: bytes, fetched: Fetched, feed: dict[str, Any], zone: ZoneInfo, now: datetime
) -> Parsed:
    """Parse a feed document's bytes; relative links resolve against where it came from."""
    headers = {
        "content-location": fetched.url,
        "content-type": fetched.content_type or "application/xml",
    }
    try:
        doc = feedparser.parse(io.BytesIO(body), response_headers=headers)
    except Exception as exc:  # a parser bug on hostile input must not stop the other feeds
        return Parsed(error=f"could not be parsed: {type(exc).__name__}: {exc}")
    problem = doc.get("bozo_exception") if doc.get("bozo") else None
    if not doc.get("version") and not doc.get("entries"):
        why = f" ({problem})" if problem else ""
        return Parsed(error=f"not an RSS or Atom feed{why}")
    warnings = []
    if problem:
        warnings.append(f"not well-formed, stored what could be read: {problem}")
    found = list(doc.get("entries", []))
    if problem and found and not _ROOT_END.search(body[-256:]):
        # Cut off: the last entry may be missing its guid or the end of its text, and
        # stored now it would come back as another item once the feed is whole.
        found.pop()
        warnings.append("the feed ends abruptly; its last entry waits for the next poll")
    entries: list[EntryRow] = []
    seen: set[str] = set()
    repeated = 0
    feed_language = language_tag(doc.get("feed", {}).get("language"))
    for entry in found:
        row = entry_row(entry, feed, zone, now, feed_language)
        if row.identity in seen:
            repeated += 1  # the first occurrence is the one kept
            continue
        seen.add(row.identity)
        entries.append(row)
    if repeated:
        warnings.append(
            f"{repeated} entr{'y repeats' if repeated == 1 else 'ies repeat'} "
            "the id of an earlier one; the first was kept"
        )
    skipped = [e for e in entries if e.skipped]
    if skipped:
        warnings.append(
            f"{len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} skipped, "
            f"e.g. {skipped[0].identity}: {skipped[0].skipped}"
        )
    return Parsed(entries, warnings, bozo=bool(problem))


def _text(detail: Any, fallback: Any = None) -> str:
    """Clean text of a feed value: HTML (already sanitized by feedparser) becomes text."""
    value = detail.get("value") if detail else fallback
    if not isinstance(value, str) or not value:
        return ""
    # Decoded once, here: what is stored is the text a reader sees, never markup again.
    text = html_to_text(value) if detail and detail.get("type") in HTML_TYPES else value
    return " ".join(public_text(text).split())


def _link(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _published(entry: Any) -> datetime | None:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if not moment:
        return None
    try:
        year, month, day, hour, minute, second = moment[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


_LANGUAGE_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][a-zA-Z0-9]{1,8})*$")


def language_tag(value: Any) -> str | None:
    """The language of a BCP 47 tag as Mastodon takes it ("pl-PL" -> "pl"), or None."""
    found = _LANGUAGE_RE.match(value.strip()) if isinstance(value, str) else None
    return found.group(1).lower() if found else None


def _entry_language(entry: Any, feed_language: str | None) -> str | None:
    """An entry's own language (xml:lang on it or its text), else its feed's."""
    details = [entry.get("summary_detail"), entry.get("title_detail"), *entry.get("content", [])]
    for detail in details:
        own = language_tag(detail.get("language")) if detail else None
        if own:
            return own
    return feed_language


def categories(entry: Any) -> list[str]:
    """An entry's categories (RSS <category>, Atom category term), clean and in order."""
    found: list[str] = []
    for tag in entry.get("tags") or []:
        term = tag.get("term") or tag.get("label") if hasattr(tag, "get") else None
        text = " ".join(public_text(term).split()) if isinstance(term, str) else ""
        if text and text not in found:
            found.append(text)
    return found


def _hash(*parts: Any) -> str:
    data = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def identity(entry: Any, feed_url: str, title: str, link: str | None) -> str:
    """guid, else link, else a hash of title and date (the last two scoped to the feed)."""
    guid = entry.get("id")
    if isinstance(guid, str) and guid.strip():
        guid = guid.strip()
        return guid if _ABSOLUTE.match(guid) else f"{feed_url}#{guid}"
    if link:
        return link
    date = entry.get("published") or entry.get("updated") or ""
    return f"{feed_url}#sha256:{_hash(title, date)[:32]}"


def entry_row(
    entry: Any,
    feed: dict[str, Any],
    zone: ZoneInfo,
    now: datetime,
    feed_language: str | None = None,
) -> EntryRow:
    """One feedparser entry as a row for the store, or the reason it cannot be one.

    An entry without a date is dated when first seen (``now``); the fingerprint, which
    tells an edit, covers only what the feed says.
    """
    title = _text(entry.get("title_detail"), entry.get("title"))
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    summary = _text(entry.get("summary_detail") or (contents[0] if contents else None))
    link = _link(entry.get("link"))
    published = _published(entry)
    key = identity(entry, feed["url"], title, link)
    base = slugify(title)[:60].strip("-")
    fields: dict[str, Any]
    if feed["kind"] == "newsletter":
        body = max((_text(c) for c in contents), key=len, default="")
        fields = {"title": title, "url": link, "summary": summary, "body": body}
        skipped = None if title else "no title (a newsletter needs one)"
        when = published.astimezone(zone).date().isoformat() if published else None
        first = now.astimezone(zone).date().isoformat()
        new = {"slug": base or "newsletter"}
    else:
        fields = {"title": title, "link": link, "summary": summary}
        fields |= {"city": feed["city"], "theme": feed["theme"]}
        skipped = None if title or summary else "no title and no text"
        when = iso(published) if published else None
        first = iso(now)
        # The hash keeps same-titled news apart and the slug stable across runs.
        new = {"slug": f"{base or 'news'}-{_hash(key)[:8]}", "guid": key, "feed_url": feed["url"]}
    # Only when there is one, so that the fingerprints of entries without stay as they were.
    language = _entry_language(entry, feed_language)
    if language:
        fields["language"] = language
    tags = categories(entry) if feed.get("hashtags_from_categories") else []
    if tags:
        fields["tags"] = json.dumps(tags, ensure_ascii=False)
    return EntryRow(
        key,
        _hash(fields, when, skipped)[:32],
        new={**fields, **new, "published": when or first},
        changes={**fields, **({"published": when} if when else {})},
        skipped=skipped,
    )


# -- one feed ------------------------------------------------------------------------


def poll(
    feed: dict[str, Any], settings: IngestConfig, zone: ZoneInfo, now: datetime
) -> tuple[Fetched, Parsed]:
    """Fetch a feed (conditional GET) and parse it if it changed. Runs in a worker thread."""
    fetched = fetch(feed["url"], settings, etag=feed["etag"], last_modified=feed["last_modified"])
    if fetched.error or fetched.body is None:
        return fetched, Parsed()
    return fetched, parse(fetched.body, fetched, feed, zone, now)


@dataclass
class Outcome:
    """What happened to one feed in a run."""

    url: str
    result: str  # "stored", "not modified", "failed", "disabled"
    status: int | None = None
    parsed: bool = False
    stored: Stored = field(default_factory=Stored)
    error: str | None = None
    warning: str | None = None


def backoff(settings: IngestConfig, failures: int) -> timedelta:
    """Wait before the next try after ``failures`` failures in a row: doubling, capped."""
    seconds = settings.backoff_seconds * 2 ** min(failures - 1, 32)
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


def _fail(
    store: Store,
    config: Config,
    feed: dict[str, Any],
    status: int | None,
    error: str,
    now: datetime,
    retry_after: int | None = None,
    parsed: bool = False,
) -> Outcome:
    failures = feed["error_count"] + 1
    wait = backoff(config.ingest, failures)
    if retry_after is not None:
        # fetch bounds it already; bounded here too, since a timedelta can overflow.
        wait = max(wait, timedelta(seconds=min(retry_after, config.ingest.backoff_max_seconds)))
    disable = None
    if status == 410:
        disable = "the server says the feed is gone for good (HTTP 410)"
    elif failures >= config.ingest.max_failures:
        disable = f"{failures} failures in a row; last: {error}"
    feeds_q.record_failure(
        store,
        feed["id"],
        status=status,
        error=error,
        next_poll_at=now + wait,
        disable=disable,
        now=now,
    )
    log.warning("feed %s: %s", feed["url"], disable or error)
    result = "disabled" if disable else "failed"
    return Outcome(feed["url"], result, status, parsed, error=error)


def record(
    store: Store,
    config: Config,
    feed: dict[str, Any],
    fetched: Fetched,
    parsed: Parsed,
    now: datetime,
) -> Outcome:
    """Write what polling a feed gave; a feed's entries are stored all together or not at all."""
    if fetched.error:
        return _fail(store, config, feed, fetched.status, fetched.error, now, fetched.retry_after)
    if fetched.not_modified:
        feeds_q.record_not_modified(store, feed["id"], 304, now)
        return Outcome(feed["url"], "not modified", 304)
    if parsed.error:
        return _fail(store, config, feed, fetched.status, parsed.error, now, parsed=True)
    warning = "; ".join(parsed.warnings) or None
    # After a malformed document, ask for the whole feed again next time rather than
    # trusting validators that would answer 304 to a repaired feed.
    keep = not parsed.bozo
    try:
        stored = feeds_q.store_entries(
            store,
            feed,
            parsed.entries,
            status=fetched.status or 200,
            etag=fetched.etag if keep else None,
            last_modified=fetched.last_modified if keep else None,
            warning=warning,
            now=now,
        )
    except sqlite3.IntegrityError as exc:
        error = f"could not be stored: {exc}"
        return _fail(store, config, feed, fetched.status, error, now, parsed=True)
    if warning:
        log.warning("feed %s: %s", feed["url"], warning)
    return Outcome(feed["url"], "stored", fetched.status, True, stored, warning=warning)


# -- a run ---------------------------------------------------------------------------


@dataclass
class Report:
    """What an ingest run did, feed by feed."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def parsed(self) -> int:
        """Feed documents parsed: zero when every feed answered 304."""
        return sum(o.parsed for o in self.outcomes)

    def totals(self) -> dict[str, int]:
        def count(result: str) -> int:
            return sum(o.result == result for o in self.outcomes)

        return {
            "feeds": len(self.outcomes),
            "not modified": count("not modified"),
            "parsed": self.parsed,
            "new": sum(o.stored.new for o in self.outcomes),
            "updated": sum(o.stored.updated for o in self.outcomes),
            "skipped": sum(o.stored.skipped for o in self.outcomes),
            "failed": count("failed"),
            "disabled": count("disabled"),
        }


def sync_config(store: Store, config: Config, now: datetime) -> None:
    """Bring the config's ``[[feeds]]`` into the store, cities and themes resolved."""
    from commsbot.content.places import Places

    ref = Places.load(store)
    rows = []
    for i, feed in enumerate(config.feeds):
        row: dict[str, Any] = {
            "url": feed.url,
            "kind": feed.kind,
            "hashtags_from_categories": feed.hashtags_from_categories,
        }
        for key in ("city", "theme"):
            value = getattr(feed, key)
            try:
                row[key] = ref.resolve(key, value) if value else None
            except ValueError as exc:
                raise ContentError(f"{config.file}: feeds[{i}].{key}: {exc}") from None
        rows.append(row)
    feeds_q.sync_config(store, rows, now)


# A feed named that the store does not have, as the CLI says it and as elsewhere.
NO_FEED = N_("no feed %(url)s (see `commsbot feeds list`)")
NO_FEED_HERE = N_("no feed %(url)s (see the list of feeds)")


def chosen(
    store: Store, now: datetime, urls: Sequence[str] | None, every: bool
) -> list[dict[str, Any]]:
    """The feeds to poll: those due; or (for ``feeds check``) every enabled one, backing
    off or not, or the named ones, even disabled."""
    if urls is None:
        if every:
            return [f for f in feeds_q.all_feeds(store) if not f["disabled"]]
        return feeds_q.due(store, now)
    feeds = []
    for url in urls:
        feed = feeds_q.get(store, url)
        if feed is None:
            raise ContentError(NO_FEED, neutral=NO_FEED_HERE, url=repr(url))
        feeds.append(feed)
    return feeds


async def ingest(
    store: Store,
    config: Config,
    *,
    clock: Clock = utcnow,
    urls: Sequence[str] | None = None,
    every: bool = False,
) -> Report:
    """Poll the due feeds (see ``chosen``) concurrently; store each as it arrives."""
    sync_config(store, config, clock())
    feeds = chosen(store, clock(), urls, every)
    gate = asyncio.Semaphore(config.ingest.concurrency)

    async def one(feed: dict[str, Any]) -> tuple[dict[str, Any], Fetched, Parsed]:
        async with gate:
            fetched, parsed = await asyncio.to_thread(
                poll, feed, config.ingest, config.zone, clock()
            )
            return feed, fetched, parsed

    report = Report()
    # The store is written from this thread only: SQLite connections are per thread.
    for next_done in asyncio.as_completed([one(f) for f in feeds]):
        feed, fetched, parsed = await next_done
        report.outcomes.append(record(store, config, feed, fetched, parsed, clock()))
    return report


async def ingest_job(ctx: JobContext) -> dict[str, Any]:
    """The scheduled job: poll the due feeds and report the counts.

    A ``[[feeds]]`` entry naming an unknown city or theme is reported, not raised: it must
    not keep the jobs after this one (publishing) from running.
    """
    try:
        report = await ingest(ctx.store, ctx.config, clock=ctx.clock)
    except ContentError as exc:
        return {"error": str(exc)}
    return report.totals()
