"""``commsbot queue``: announcements and the outbox, as the comms officer sees them."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from commsbot.cli.base import (
    POSITIVE_INT,
    App,
    LazyGroup,
    channel_option,
    echo_table,
    exit_codes,
    format_option,
    json_option,
    needs_attention,
    pass_app,
)
from commsbot.clock import local_iso, local_text, utcnow
from commsbot.content.images import MOST_IMAGES

# A time typed for "this minute" is not refused as past while the officer types it.
PAST_GRACE = timedelta(minutes=1)


def parse_time(text: str, zone: ZoneInfo, option: str = "--at") -> datetime:
    """'2026-11-24 10:00' (the config's time zone), an ISO time with offset, or 'now'."""
    if text.strip().lower() == "now":
        return utcnow()
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time; use YYYY-MM-DD HH:MM (in {zone.key}) or an ISO time",
            param_hint=option,
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    try:
        moment.astimezone(UTC)  # the store keeps UTC: year 1 in Brussels is not there
    except OverflowError:
        raise click.BadParameter(f"{text!r} is out of range", param_hint=option) from None
    return moment


def _channels(
    app: App,
    names: tuple[str, ...],
    language: str | None = None,
    translated: Collection[str] = (),
) -> list[str]:
    from commsbot.channels import account_class

    config = app.config
    if names:
        chosen = list(names)
    else:
        from commsbot.posting.accounts import announcement_refusals

        posting = {
            n: config.channels[n]
            for n in config.enabled_channels
            if account_class(config.channels[n]).takes_posts
        }
        chosen = []
        for name, why in announcement_refusals(posting, language, translated).items():
            if why is None:
                chosen.append(name)
            else:
                click.echo(f"not for {name} ({why}; name it with --channel)", err=True)
    for name in chosen:
        # names the file and the known channels when it is not there
        if not account_class(config.channel(name)).takes_posts:
            raise click.BadParameter(
                f"channel {name} takes no posts (it sends digests)", param_hint="--channel"
            )
    if not chosen:
        raise click.UsageError(
            "no channel given, and no enabled channel takes announcements (see above)"
            if config.enabled_channels
            else "no channel given and none is enabled in the config"
        )
    return chosen


def _languages(language: str | None, pairs: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """--language and --translation LANG=TEXT checked: known codes, one text each, none
    in the original's own language."""
    from commsbot.errors import ContentError
    from commsbot.i18n import check_language

    try:
        code = check_language(language, "--language") if language else None
        translations: dict[str, str] = {}
        for pair in pairs:
            lang, equals, text = pair.partition("=")
            if not equals or not text.strip():
                raise click.BadParameter(f"{pair!r} is not LANG=TEXT", param_hint="--translation")
            lang = check_language(lang, "--translation")
            if lang in translations or lang == (code or "en"):
                why = "given twice" if lang in translations else "the text's own language"
                raise click.BadParameter(f"{lang}: {why}", param_hint="--translation")
            translations[lang] = text.strip()
    except ContentError as exc:
        raise click.UsageError(str(exc)) from None
    return code, translations


@click.group(
    cls=LazyGroup,
    # These two are the service as the officer sees it, in service_cmds with `status`.
    lazy_subcommands={
        "pending": (
            "commsbot.cli.service_cmds:queue_pending",
            "Posts waiting for approval, with why; approve or cancel them by id.",
        ),
        "slots": (
            "commsbot.cli.service_cmds:queue_slots",
            "The coming posting slots of each channel, and the post that holds each one.",
        ),
    },
)
def queue() -> None:
    """The outbox: queue announcements; list, approve, edit, cancel or retry posts."""


@queue.command("add")
@click.argument("text")
@channel_option("channel_names", many=True, help="On these channels (default: all enabled).")
@click.option(
    "--at", "at_text", help="Not before this time: YYYY-MM-DD HH:MM in the config's zone."
)
@click.option(
    "--next-slot", is_flag=True, help="In each channel's next free posting slot (see queue slots)."
)
@click.option("--now", "at_once", is_flag=True, help="As soon as possible (the default).")
@click.option(
    "--first",
    is_flag=True,
    help="Share next: each channel's earliest slot; the post holding it moves (and is named).",
)
@click.option("--link", help="A link to add after the text; it is never truncated.")
@click.option(
    "--image",
    "image_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"An image file to post with the text (needs --alt; up to {MOST_IMAGES}, each with its "
    "own --alt in the same order).",
)
@click.option(
    "--alt",
    "alts",
    multiple=True,
    help="The image's description, for people who cannot see it.",
)
@click.option(
    "--text-for",
    "text_for",
    multiple=True,
    metavar="NAME=TEXT",
    help="This account's own text instead of TEXT (repeat for several).",
)
@click.option(
    "--language",
    "language",
    metavar="CODE",
    help="The language TEXT is written in (en, nl, it, de, et, pl, lt, sv, pt, cs).",
)
@click.option(
    "--translation",
    "translation_pairs",
    multiple=True,
    metavar="LANG=TEXT",
    help="TEXT in another language, for accounts that post in it (repeat for several).",
)
@click.option("--template", default="announcement", show_default=True, help="Template name.")
@pass_app
def queue_add(
    app: App,
    text: str,
    channel_names: tuple[str, ...],
    at_text: str | None,
    next_slot: bool,
    at_once: bool,
    first: bool,
    link: str | None,
    image_files: tuple[Path, ...],
    alts: tuple[str, ...],
    text_for: tuple[str, ...],
    language: str | None,
    translation_pairs: tuple[str, ...],
    template: str,
) -> None:
    """Queue TEXT as an announcement on one or more channels, --now, --at a time, in the
    --next-slot or the --first slot; with an approval policy it waits for `queue approve`.
    A time in the past is refused; a text too long for a channel is shown as it will be
    cut or threaded. With --translation an account whose `languages` are set posts the
    text in its language, tagged with it; one without follows its `missing_translation`."""
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import announce, require_post

    if link:
        from commsbot.content.items import _convert
        from commsbot.content.places import Places
        from commsbot.content.types import Field

        try:
            _convert(Field("link", "url"), link, Places())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--link") from None
    if len(image_files) > MOST_IMAGES:
        raise click.UsageError(
            f"{len(image_files)} --image files; an announcement carries at most {MOST_IMAGES}"
        )
    if len(alts) > len(image_files):
        raise click.UsageError("--alt describes an --image; give the image too")
    if len(alts) < len(image_files) or not all(alt.strip() for alt in alts):
        raise click.UsageError(
            "--image needs --alt TEXT, for people who cannot see it (one --alt for each "
            "--image, in the same order)"
        )
    own_texts: dict[str, str] = {}
    for pair in text_for:
        name, equals, own = pair.partition("=")
        if not equals or not name.strip() or not own.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=TEXT", param_hint="--text-for")
        own_texts[name.strip()] = own
    language, translations = _languages(language, translation_pairs)
    if sum(map(bool, (at_text, next_slot, at_once, first))) > 1:
        raise click.UsageError("give one of --at, --next-slot, --first and --now")
    now = utcnow()
    at = parse_time(at_text, app.config.zone) if at_text else now
    if at_text and at < now - PAST_GRACE:
        shown = local_text(at, app.config.zone)
        raise click.BadParameter(
            f"{at_text!r} ({shown}) is in the past; give --now to post as soon as possible",
            param_hint="--at",
        )
    channels = make_channels(
        app.config, _channels(app, channel_names, language, translations.keys())
    )
    kept: list[str] = []
    if image_files:
        from commsbot.content import images

        # Copies kept with the store: the officer's files may move, and backups take them.
        kept = [str(images.keep_file(app.config.store.path, image)) for image in image_files]
    moved: list[dict[str, Any]] = []
    ids = announce(
        app.store,
        app.config,
        channels,
        text,
        at=at,
        link=link,
        template=template,
        next_slot=next_slot,
        first=first,
        warn=lambda note: click.echo(f"warning: {note}", err=True),
        moved=moved,
        image=kept[0] if kept else None,
        image_alt=alts[0] if kept else None,
        more_images=list(zip(kept[1:], alts[1:], strict=True)),
        text_for=own_texts,
        language=language,
        translations=translations,
    )
    for post_id in ids:
        post = require_post(app.store, post_id)
        when = local_text(post["not_before"], app.config.zone)
        if post["status"] == "pending_approval":
            click.echo(f"post {post_id} on {post['channel']}: waiting for approval")
        else:
            click.echo(f"post {post_id} on {post['channel']}: queued for {when}")
    for post in moved:
        click.echo(
            f"post {post['id']} on {post['channel']} ({post['item_ref']}) moved from "
            f"{local_text(post['not_before'], app.config.zone)} to "
            f"{local_text(post['moved_to'], app.config.zone)} to make room"
        )


def echo_preview(app: App, as_json: bool) -> None:
    """What the next run would post, where and when, and what would wait: nothing is sent
    or stored (the planning is rolled back)."""
    from commsbot.posting.pipeline import make_channels, preview

    config = app.config
    found = preview(app.store, config, make_channels(config), utcnow())
    zone = config.zone
    if as_json:
        posts = [{**p, "when": local_iso(p["when"], zone)} for p in found.posts]
        data = {"dry_run": True, "posts": posts, "problems": found.problems}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _echo_found(found, zone)
    if found.problems:  # a template error now is a failed post at the next run
        needs_attention()


def _echo_found(found: Any, zone: ZoneInfo) -> None:
    click.echo("dry run: nothing is sent or stored")
    for problem in found.problems:
        click.echo(f"problem: {problem}", err=True)
    rows = [
        {
            "post": "new" if p["id"] is None else p["id"],
            "channel": p["channel"],
            "action": p["action"],
            "when": local_text(p["when"], zone) or "",
            "item": p["item"],
            "text": (p["text"].splitlines() or [""])[0][:40],
            "note": (p["note"] or "")[:60],
        }
        for p in found.posts
    ]
    echo_table(rows)
    click.echo(
        f"{found.count('post now')} would post now, {found.count('post later')} later, "
        f"{found.count('wait for approval')} would wait for approval (queue pending)"
    )


@queue.command("plan")
@json_option("Print the plan as text or as JSON.")
@pass_app
@exit_codes
def queue_plan(app: App, as_json: bool) -> None:
    """What the next run would post, to which channel and when, and what would wait for
    approval; nothing is sent or stored (the same as run --once --dry-run). Exits 1 when
    something would fail (a template error), 2 on a config error."""
    echo_preview(app, as_json)


# The stored times of a post, shown in the service's zone (JSON: ISO 8601 with offset).
TIME_FIELDS = (
    "not_before",
    "next_attempt_at",
    "attempted_at",
    "sent_at",
    "created_at",
    "updated_at",
)


@queue.command("list")
@click.option(
    "--status",
    type=click.Choice(
        ["draft", "pending_approval", "queued", "sending", "sent", "failed", "cancelled", "unknown"]
    ),
)
@channel_option()
@click.option("--limit", type=POSITIVE_INT, default=50, show_default=True, help="Rows per page.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many rows.")
@click.option("--all", "show_all", is_flag=True, help="Every row, no paging.")
@format_option("table", "json")
@pass_app
def queue_list(
    app: App,
    status: str | None,
    channel_name: str | None,
    limit: int,
    offset: int,
    show_all: bool,
    fmt: str,
) -> None:
    """List posts in the outbox, oldest due first, a page at a time with the total."""
    from commsbot.posting import queue as queue_ops

    zone = app.config.zone
    total = queue_ops.counted(app.store, status=status, channel=channel_name)
    rows = queue_ops.listed(
        app.store,
        status=status,
        channel=channel_name,
        limit=None if show_all else limit,
        offset=0 if show_all else offset,
    )
    if fmt == "json":
        for r in rows:
            r.update({k: local_iso(r.get(k), zone) for k in TIME_FIELDS if k in r})
        data = {"total": total, "offset": 0 if show_all else offset, "posts": rows}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for r in rows:
        r["text"] = (r["text"].splitlines() or [""])[0][:50]
        r["error"] = (r["last_error"] or "")[:40]
        r["not_before"] = local_text(r["not_before"], zone)
    echo_table(
        rows,
        [
            "id",
            "channel",
            "status",
            "item_type",
            "item_ref",
            "not_before",
            "attempts",
            "text",
            "error",
        ],
    )
    first = (0 if show_all else offset) + 1
    if rows and len(rows) < total:
        last = first + len(rows) - 1
        more = f"; next page: --offset {last}" if last < total else ""
        click.echo(f"\nposts {first}-{last} of {total} (--all for every one{more})")
    elif rows:
        click.echo(f"\n{total} post(s)")
    elif total:
        click.echo(f"no post past {offset}: there are {total}")


@queue.command("show")
@click.argument("post_id", type=POSITIVE_INT)
@pass_app
def queue_show(app: App, post_id: int) -> None:
    """Show one post: its state, exact text and history."""
    from commsbot.posting import queue as queue_ops
    from commsbot.posting.queue import require_post

    post = require_post(app.store, post_id)
    text = post.pop("text")
    payload = post.pop("payload")
    post.update({k: local_text(post[k], app.config.zone) for k in TIME_FIELDS if k in post})
    for key, value in post.items():
        click.echo(f"{key:16} {'' if value is None else value}")
    if payload.get("thread"):
        click.echo(f"{'thread':16} {len(payload['thread'])} more part(s)")
    if payload.get("image"):
        click.echo(f"{'image':16} {payload['image']}")
        click.echo(f"{'image_alt':16} {payload.get('image_alt') or ''}")
    further_images = payload.get("images") or []
    own = [*(payload.get("images_alt") or []), *[""] * len(further_images)]
    for further, alt in zip(further_images, own, strict=False):
        click.echo(f"{'image':16} {further}")
        click.echo(f"{'image_alt':16} {alt or payload.get('image_alt') or ''}")
    click.echo("")
    click.echo(text)
    click.echo("")
    click.echo("history:")
    for step in queue_ops.history(app.store, post_id):
        when = local_text(step["at"], app.config.zone)
        detail = f" ({step['detail']})" if step["detail"] else ""
        click.echo(f"  {when}  {step['action']} by {step['actor']}{detail}")


class PostIds(click.ParamType[list[int]]):
    """A post id or a range of them, "45-50"."""

    name = "ID|FROM-TO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, list):
            return value
        first, dash, last = str(value).partition("-")
        if not dash:  # one id, refused as any id argument is (digits, size)
            return [POSITIVE_INT.convert(value, param, ctx)]
        try:
            low = POSITIVE_INT.convert(first, param, ctx)
            high = POSITIVE_INT.convert(last, param, ctx)
        except click.BadParameter:
            self.fail(f"{value!r} is not a post id or a range like 45-50", param, ctx)
        if high < low:
            self.fail(f"{value!r}: a range goes from the lower id to the higher", param, ctx)
        if high - low >= MAX_RANGE:
            self.fail(f"{value!r} spans more than {MAX_RANGE} posts", param, ctx)
        return list(range(low, high + 1))


# A range is typed by a person: one this long is a typo, not a plan.
MAX_RANGE = 10_000


def _chosen_posts(app: App, ranges: tuple[list[int], ...], all_pending: bool) -> list[int]:
    from commsbot.posting import queue as queue_ops

    if all_pending and ranges:
        raise click.UsageError("give post ids or --all-pending, not both")
    if all_pending:
        rows = queue_ops.listed(app.store, status="pending_approval", limit=None)
        return [r["id"] for r in rows]
    if not ranges:
        raise click.UsageError("give post ids (12 13, or a range 45-50) or --all-pending")
    return list(dict.fromkeys(i for ids in ranges for i in ids))


def _each_post(post_ids: list[int], act: Callable[[int], str]) -> None:
    """Act on each post, saying what became of it; one that cannot be changed is said
    and the rest still done, then the command exits 1."""
    from commsbot.errors import ContentError

    if not post_ids:
        click.echo("no post is waiting for approval")
        return
    refused = 0
    for post_id in post_ids:
        try:
            click.echo(act(post_id))
        except ContentError as exc:
            refused += 1
            click.echo(f"Error: {exc}", err=True)
    if refused:
        if len(post_ids) > 1:
            click.echo(f"{refused} of {len(post_ids)} post(s) not changed", err=True)
        click.get_current_context().exit(1)


@queue.command("approve")
@click.argument("ranges", type=PostIds(), nargs=-1, metavar="POST_IDS...")
@click.option("--all-pending", is_flag=True, help="Every post waiting for approval.")
@pass_app
def queue_approve(app: App, ranges: tuple[list[int], ...], all_pending: bool) -> None:
    """Approve posts waiting for approval (ids, ranges like 45-50, or --all-pending); each
    goes out in its channel's next free slot (or at its own time, if still ahead)."""
    from commsbot.posting.placement import approval_time
    from commsbot.posting.queue import approve, require_post

    def act(post_id: int) -> str:
        now = utcnow()
        found = require_post(app.store, post_id)
        post = approve(
            app.store, post_id, now, not_before=approval_time(app.store, app.config, found, now)
        )
        when = local_text(post["not_before"], app.config.zone)
        return f"post {post_id} approved: queued for {post['channel']} at {when}"

    _each_post(_chosen_posts(app, ranges, all_pending), act)


@queue.command("cancel")
@click.argument("ranges", type=PostIds(), nargs=-1, metavar="POST_IDS...")
@click.option("--all-pending", is_flag=True, help="Every post waiting for approval.")
@pass_app
def queue_cancel(app: App, ranges: tuple[list[int], ...], all_pending: bool) -> None:
    """Cancel posts that have not been sent (waiting for approval, queued, failed): ids,
    ranges like 45-50, or --all-pending."""
    from commsbot.posting.queue import cancel

    def act(post_id: int) -> str:
        cancel(app.store, post_id, utcnow())
        return f"post {post_id} cancelled"

    _each_post(_chosen_posts(app, ranges, all_pending), act)


@queue.command("restore")
@click.argument("post_ids", type=POSITIVE_INT, nargs=-1, required=True)
@pass_app
def queue_restore(app: App, post_ids: tuple[int, ...]) -> None:
    """Undo a cancel: each post waits for approval again or is queued in its next slot."""
    from commsbot.posting.queue import restore

    for post_id in post_ids:
        post = restore(app.store, app.config, post_id, utcnow())
        if post["status"] == "pending_approval":
            click.echo(f"post {post_id} restored: waiting for approval")
        else:
            when = local_text(post["not_before"], app.config.zone)
            click.echo(f"post {post_id} restored: queued for {post['channel']} at {when}")


@queue.command("retry")
@click.argument("post_id", type=POSITIVE_INT)
@pass_app
def queue_retry(app: App, post_id: int) -> None:
    """Queue a failed post again; for an 'unknown' one, check the platform first."""
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import require_post, retry

    post = require_post(app.store, post_id)
    channel = make_channels(app.config, [post["channel"]])[post["channel"]]
    retry(app.store, app.config, channel, post_id, utcnow())
    click.echo(f"post {post_id} queued again for {post['channel']}")


@queue.command("edit")
@click.argument("post_id", type=POSITIVE_INT)
@click.option("--text", help="The new text, exactly as it should appear.")
@click.option("--at", "at_text", help="A new time: YYYY-MM-DD HH:MM in the config's zone.")
@pass_app
def queue_edit(app: App, post_id: int, text: str | None, at_text: str | None) -> None:
    """Change the text or time of a post that has not been sent."""
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.queue import edit, require_post

    post = require_post(app.store, post_id)
    channel = make_channels(app.config, [post["channel"]])[post["channel"]]
    at = parse_time(at_text, app.config.zone) if at_text else None
    edit(app.store, channel, post_id, utcnow(), text=text, at=at)
    click.echo(f"post {post_id} updated")
