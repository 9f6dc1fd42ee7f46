"""The one way through: store -> select -> render -> dispatch -> record.

``plan`` turns new content into outbox rows (rendered, before any network call);
``run_once`` plans, then dispatches what is due on every enabled channel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from commsbot.channels import account
from commsbot.channels.base import Channel
from commsbot.clock import Clock, utcnow
from commsbot.config import Config
from commsbot.content.places import Places
from commsbot.content.translations import Version, version_for
from commsbot.delivery import RetryPolicy
from commsbot.errors import ChannelError, TemplateError
from commsbot.posting import dispatch, select
from commsbot.posting.placement import Placer
from commsbot.render import LINK_FIELD, Renderer, item_version
from commsbot.store import Store, iso
from commsbot.store import accounts as accounts_q
from commsbot.store import posts as posts_q
from commsbot.store import translations as translations_q

if TYPE_CHECKING:
    from commsbot.service.jobs import JobContext


@dataclass
class Summary:
    """What a run did, per channel: planned rows and the outcome of each send."""

    planned: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    # New posts not queued: pending_approval or cancelled (backlog skipped), by status.
    held: Counter[str] = field(default_factory=Counter)

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.outcomes.values())

    def describe(self) -> str:
        """One line for logs and job runs: "new 3, sent 3", with what went wrong."""
        parts = [f"new {sum(self.planned.values())}"]
        parts += [f"{status} {n}" for status, n in sorted(self.held.items())]
        outcomes: Counter[str] = Counter()
        for counts in self.outcomes.values():
            outcomes += counts
        parts += [f"{outcome} {n}" for outcome, n in sorted(outcomes.items())]
        if self.problems:
            parts.append(f"problems {len(self.problems)}")
        return ", ".join(parts)


def make_channels(config: Config, names: list[str] | None = None) -> dict[str, Channel]:
    """Instances of the enabled channels (or the named ones)."""
    chosen = names if names is not None else config.enabled_channels
    return {n: account(n, config.channel(n)) for n in chosen}


def retry_policy(config: Config) -> RetryPolicy:
    return RetryPolicy.of(config.posting)


def render_item(
    renderer: Renderer,
    lookup: Places,
    channel: Channel,
    item_type: str,
    item: dict[str, Any],
) -> Any:
    link = item.get(LINK_FIELD.get(item_type, "url"))
    return renderer.render(
        channel,
        item_type,
        lookup.context(item),
        link=link,
        what=f"{item_type} {item['slug']!r}",
    )


def plan(
    store: Store,
    config: Config,
    renderer: Renderer,
    channels: dict[str, Channel],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Render every new item for every channel and add it to the outbox, placed by the
    approval and backlog policies in its channel's next free slot."""
    summary = Summary()
    lookup = Places.load(store)
    # A post's fixed words and dates are in its own language: one renderer per language.
    renderers = {renderer.language: renderer}
    lookups = {renderer.language: lookup.spoken(renderer.words)}
    rendered: list[tuple[dict[str, Any], dict[str, Any], str | None]] = []
    accounts = {name: channel.settings for name, channel in channels.items()}
    stamp = iso(now)
    for name, item_type, item in select.new_content(store, accounts, config.posting.content_types):
        channel = channels[name]
        settings = channel.settings
        base = {
            "item_type": item_type,
            "item_id": item["id"],
            "item_ref": item["slug"],
            "channel": name,
            "not_before": stamp,
            "item_version": item_version(item),
        }
        if settings.languages:
            version = version_for(
                item,
                translations_q.of_item(store, item_type, item["id"]),
                settings.languages,
                settings.missing_translation,
            )
        else:
            version = Version(item, item.get("language") or "en")
        if version.language not in renderers:
            renderers[version.language] = Renderer(config.service.templates, version.language)
            # Theme names in the post's language, as its fixed words.
            lookups[version.language] = lookup.spoken(renderers[version.language].words)
        try:
            out = render_item(
                renderers[version.language],
                lookups.get(version.language, lookup),
                channel,
                item_type,
                version.item,
            )
        except TemplateError as exc:
            # Recorded, not dropped: the officer fixes the template and retries.
            summary.problems.append(str(exc))
            base.update(status="failed", text="", last_error=str(exc))
            rendered.append((base, item, None))
            continue
        # The row is completed in place, not copied into a new dict.
        base["status"] = "queued"
        base["text"] = out.text
        base["payload"] = out.payload()
        rendered.append((base, item, version.hold))
        if progress is not None and len(rendered) % 500 == 0:
            progress(500)
    # Slots are read and taken in the transaction that inserts, so that a post queued
    # meanwhile (queue add --next-slot) cannot take the same slot.
    with store.write():
        accounts_q.remember(store, {n: c.kind for n, c in channels.items()}, now)
        placer = Placer(store, config, now)
        rows = []
        for row, item, hold in rendered:
            if row["status"] == "queued":
                placed = placer.place(row["item_type"], row["channel"], item)
                row["status"] = placed.status
                row["not_before"] = iso(placed.not_before)
                row["last_error"] = placed.note
                if hold and placed.status == "queued":
                    row["status"] = "pending_approval"
                    row["last_error"] = hold
                summary.planned[row["channel"]] += 1
                if placed.status != "queued":
                    summary.held[placed.status] += 1
            rows.append(row)
        posts_q.insert_posts(store, rows, now)
    return summary


async def publish(
    store: Store,
    config: Config,
    channels: dict[str, Channel],
    *,
    clock: Clock = utcnow,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Plan new content, then dispatch everything due on the given (opened) channels.

    Channels that only send to people (e-mail digests) take no posts and are left out.
    """
    channels = {name: ch for name, ch in channels.items() if ch.takes_posts}
    renderer = Renderer(config.service.templates)
    summary = plan(store, config, renderer, channels, clock(), progress)
    summary.outcomes.update(
        await dispatch.dispatch(store, channels, clock, retry_policy(config), progress)
    )
    for name in channels:
        blocked = select.channel_blocked(store, name, clock())
        if blocked:
            summary.problems.append(f"{name} is {blocked}")
    return summary


@dataclass
class Preview:
    """What the next run would do with posts, found without sending or storing anything."""

    # One row per post the run would send now, later, or leave waiting for approval:
    # id (None for a post the run would create), channel, action, when, item, text, note.
    posts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for p in self.posts if p["action"] == action)


def preview(store: Store, config: Config, channels: dict[str, Channel], now: datetime) -> Preview:
    """The next run's posts, planned as ``publish`` would plan them, in a transaction that
    is rolled back: nothing is sent, and the store is left exactly as it was."""
    channels = {name: ch for name, ch in channels.items() if ch.takes_posts}
    found = Preview()
    if not channels:
        return found
    renderer = Renderer(config.service.templates)
    marks = ", ".join("?" for _ in channels)
    store.conn.execute("BEGIN IMMEDIATE")
    try:
        newest = int(store.scalar("SELECT coalesce(max(id), 0) FROM posts"))
        found.problems.extend(plan(store, config, renderer, channels, now).problems)
        rows = store.rows(
            "SELECT id, channel, status, item_type, item_ref, not_before, next_attempt_at, "
            f"text, last_error FROM posts WHERE channel IN ({marks}) "
            "AND status IN ('queued', 'pending_approval') ORDER BY not_before, id",
            tuple(channels),
        )
        blocked = {name: select.channel_blocked(store, name, now) for name in channels}
    finally:
        store.conn.execute("ROLLBACK")
    for row in rows:
        when = max(row["not_before"], row["next_attempt_at"] or "")
        if row["status"] == "pending_approval":
            action, when = "wait for approval", None
        elif blocked[row["channel"]]:
            action = f"wait: {row['channel']} is {blocked[row['channel']]}"
        elif when <= iso(now):
            action = "post now"
        else:
            action = "post later"
        found.posts.append(
            {
                "id": row["id"] if row["id"] <= newest else None,
                "channel": row["channel"],
                "action": action,
                "when": when,
                "item": f"{row['item_type']} {row['item_ref']}",
                "text": row["text"],
                "note": row["last_error"],
            }
        )
    return found


async def publish_job(ctx: JobContext) -> dict[str, Any]:
    """The scheduled job: publish, and report the counts."""
    summary = await publish(
        ctx.store, ctx.config, ctx.channels, clock=ctx.clock, progress=ctx.progress
    )
    return {"summary": summary}


async def open_channels(
    config: Config,
    summary_problems: list[str],
    names: list[str] | None = None,
    failed: dict[str, str] | None = None,
) -> dict[str, Channel]:
    """Open every enabled channel (or the named ones); one with broken credentials is
    left out and reported (and, with ``failed``, its error kept by its name)."""
    opened: dict[str, Channel] = {}
    for name, channel in make_channels(config, names).items():
        try:
            await channel.open()
        except ChannelError as exc:
            summary_problems.append(f"{name}: {exc}")
            if failed is not None:
                failed[name] = str(exc)
            continue
        opened[name] = channel
    return opened


async def close_channels(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        await channel.close()
