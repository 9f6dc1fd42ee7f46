"""The console's pages (GET): Today, Queue, a post, Compose, Calendar, Stats, Content,
Feeds, Subscribers, Users. They read; ``actions`` changes."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from commsbot.errors import N_
from commsbot.web import views
from commsbot.web.app import Console, Req

PAGE_SIZE = 50
STATUSES = tuple(views.STATE_LABELS)


def today(req: Req) -> Response:
    from commsbot.alerts.messages import check_text
    from commsbot.feeds import manage
    from commsbot.posting import overview
    from commsbot.service.status import health

    store, now = req.store, req.now()
    status = health(store, req.config, now)
    words = req.words
    return req.page(
        "today",
        pending=overview.waiting(store, ("pending_approval",), 20),
        pending_total=overview.count_status(store, "pending_approval"),
        attention=overview.waiting(store, ("failed", "unknown"), 20),
        channels=[c for c in status["channels"] if c["state"] != "ok"],
        parts=[{**p, "check_text": check_text(p["check"], words)} for p in status["failing_parts"]],
        feeds=manage.troubled(store)[:10],
        digests=overview.failed_digests(store),
        next_out=overview.next_out(store, now, 10),
        schedules=status["schedules"],
        service=status["service"],
        note=req.query.get("note", ""),
    )


def _filter(req: Req) -> Any:
    from commsbot.posting.overview import QueueFilter

    q = req.query
    zone = req.config.zone
    since = until = None
    if q.get("date"):
        from datetime import datetime, time, timedelta

        day = views.parse_day(q["date"], "date")
        since = datetime.combine(day, time(), zone)
        until = since + timedelta(days=1)
    return QueueFilter(
        channel=q.get("account", ""),
        status=q.get("status", "") if q.get("status", "") in STATUSES else "",
        item_type=q.get("type", ""),
        city=q.get("city", ""),
        theme=q.get("theme", ""),
        since=since,
        until=until,
    )


def queue(req: Req) -> Response:
    from urllib.parse import urlencode

    from commsbot.content import items as content_ops
    from commsbot.content.types import TYPES
    from commsbot.posting import overview

    try:
        page = max(1, int(req.query.get("page", "1")))
    except ValueError:
        page = 1
    rows, total = overview.page(req.store, _filter(req), (page - 1) * PAGE_SIZE, PAGE_SIZE)
    kept = {k: v for k, v in req.query.items() if k != "page" and v}
    pages = max(1, -(-total // PAGE_SIZE))
    return req.page(
        "queue",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1 if rows else 0,
        last=(page - 1) * PAGE_SIZE + len(rows),
        query=kept,
        link=lambda n: "?" + urlencode({**kept, "page": n}),
        accounts=list(req.config.channels),
        statuses=STATUSES,
        types=["announcement", *TYPES],
        cities=content_ops.cities(req.store),
        themes=content_ops.themes(req.store),
        note=req.query.get("note", ""),
    )


def post(req: Req) -> Response:
    from commsbot.errors import ContentError
    from commsbot.posting.queue import history, require_post

    try:
        post_id = int(req.params["post_id"])
        found = require_post(req.store, post_id)
    except (ValueError, ContentError):
        return req.error(404, N_("No such post"), NO_POST)
    return req.page(
        "post",
        post=found,
        length=views.post_length(req.config, found),
        pictures=views.post_images(found["payload"]),
        trail=history(req.store, post_id),
        slots=views.free_slots(req.store, req.config, found["channel"], req.now(), 8),
        note=req.query.get("note", ""),
    )


NO_POST = N_("There is no post with this number. The queue lists every post.")


def compose(req: Req) -> Response:
    return compose_page(req, views.Draft(chosen=views.post_accounts(req.config)))


def compose_page(
    req: Req,
    draft: views.Draft,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    from commsbot.content.images import MOST_IMAGES
    from commsbot.i18n import LANGUAGES

    accounts = views.post_accounts(req.config)
    return req.page(
        "compose",
        status,
        most_images=MOST_IMAGES,
        draft=draft,
        text=draft.text,
        link=draft.link,
        accounts=accounts,
        chosen=draft.chosen,
        **preview_context(req, draft),
        policies={a: req.config.approval.policy("announcement", a) for a in accounts},
        languages=LANGUAGES,
        errors=errors or {},
        when=req.field("when", "next-slot"),
        at=req.field("at"),
    )


def preview_context(req: Req, draft: views.Draft) -> dict[str, Any]:
    """What the previews show: each account's post, the link's card, the image."""
    from commsbot.i18n import LANGUAGES

    language = draft.language if draft.language in LANGUAGES else None  # else said at Queue
    return {
        "previews": views.previews(
            req.config,
            draft.text,
            draft.link or None,
            draft.chosen,
            text_for=draft.own,
            language=language,
            translations=draft.translations,
            words=req.words,
            images=sum(1 for p in draft.pictures if p.name),
        ),
        "card": views.link_card(req.store, draft.link) if draft.link else None,
        "kinds": {a: req.config.channel(a).kind for a in draft.chosen},
        "pictures": [p for p in draft.pictures if p.name],
    }


def calendar(req: Req) -> Response:
    view = req.query.get("view", "week")
    data = views.calendar(req.store, req.config, view, req.query.get("start", ""), req.now())
    return req.page("calendar", **data, note=req.query.get("note", ""))


def _chosen(req: Req) -> views.Chosen:
    return views.choose_period(req.query, req.config.zone, req.now())


def _figures(req: Req, chosen: views.Chosen) -> dict[str, Any]:
    """The period's figures, computed once per change of the store: the service commits
    what changes them (sends, engagement), and the console's own writes never do. Even
    then only the weeks whose figures changed are read again."""
    key = (chosen.since, chosen.until, req.console.changed())
    cache = req.console.cache
    if key not in cache:
        cache.clear()  # one period at a time is what people look at
        cache[key] = views.figures(req.store, chosen, kept=req.console.weeks)
    return cache[key]


def stats(req: Req) -> Response:
    from urllib.parse import urlencode

    from commsbot.insights.report import describe_period

    chosen = _chosen(req)
    kept = {k: v for k, v in req.query.items() if k in ("days", "since", "until") and v}
    return req.page(
        "stats",
        chosen=chosen,
        period_words=describe_period(chosen.period, req.words),
        previous_words=describe_period(chosen.previous, req.words),
        presets=views.PRESETS,
        query=urlencode(kept),
        days=req.query.get("days", "" if kept else "30"),
        **_figures(req, chosen),
        **views.movement(req.store, req.config, chosen),
    )


def stats_download(req: Req) -> Response:
    from commsbot.insights.stats import GROUPINGS

    chosen = _chosen(req)
    by = req.query.get("by", "channel")
    if by not in GROUPINGS:
        by = "channel"
    fmt = req.params["fmt"]
    figures = _figures(req, chosen)
    rows = [g.as_row(by) for g in figures["groups"][by]]
    name = f"commsbot-stats-{by}-{chosen.since}-{chosen.until}"
    if fmt == "json":
        body = json.dumps(
            {"period": chosen.period.as_dict(), "by": by, "rows": rows},
            ensure_ascii=False,
            indent=2,
        )
        return _download(body, f"{name}.json", "application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else [by, "posts"])
    writer.writeheader()
    writer.writerows(rows)
    return _download(out.getvalue(), f"{name}.csv", "text/csv; charset=utf-8")


def movement_download(req: Req) -> Response:
    """The movement per account (/stats/movement.csv) or the audience per week and
    channel (/stats/audience.json), as CSV or JSON."""
    chosen = _chosen(req)
    figures = views.movement(req.store, req.config, chosen)["movement"]
    which = "audience" if req.path.rsplit("/", 1)[-1].startswith("audience.") else "movement"
    if which == "audience":
        rows = views.audience_rows(figures.audience)
    else:
        rows = [a.as_row() for a in figures.accounts]
    name = f"commsbot-{which}-{chosen.since}-{chosen.until}"
    if req.params["fmt"] == "json":
        document = {"period": chosen.period.as_dict(), which: rows}
        body = json.dumps(document, ensure_ascii=False, indent=2)
        return _download(body, f"{name}.json", "application/json")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["week"])
    writer.writeheader()
    writer.writerows(rows)
    return _download(out.getvalue(), f"{name}.csv", "text/csv; charset=utf-8")


def report(req: Req) -> Response:
    from commsbot.insights.report import render_report

    chosen = _chosen(req)
    html = render_report(
        req.store,
        chosen.period,
        req.now(),
        templates=req.config.service.templates,
        hashtags=req.config.movement.hashtags,
    )
    return _download(html, f"commsbot-report-{chosen.since}-{chosen.until}.html", "text/html")


def _download(body: str, filename: str, media: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def content(
    req: Req,
    *,
    import_error: str = "",
    import_note: str = "",
    skipped: list[str] | None = None,
    status: int = 200,
) -> Response:
    """The content list and search; after an import, what it did or why not, beside the
    file field (the rows it skipped listed)."""
    from commsbot.content import items as content_ops
    from commsbot.content.types import TYPES

    kind = req.query.get("type", "practice")
    if kind not in TYPES:
        kind = "practice"
    words = req.query.get("q", "").strip()
    filters: dict[str, Any] = {
        k: req.query[k] for k in ("city", "theme") if req.query.get(k) and k in _columns(kind)
    }
    search = words if kind == "practice" else ""  # the full-text index holds practices
    items = content_ops.browse(req.store, kind, filters, PAGE_SIZE, search)
    return req.page(
        "content",
        status,
        import_error=import_error,
        import_note=import_note,
        skipped=skipped or [],
        kind=kind,
        types=TYPES,
        items=items,
        total=content_ops.count(req.store, kind),
        words=words,
        filters=filters,
        cities=content_ops.cities(req.store),
        themes=content_ops.themes(req.store),
        note=req.query.get("note", ""),
    )


def content_new(req: Req) -> Response:
    from commsbot.content.types import content_type

    return content_form(req, content_type(req.params["kind"]).name, "", {}, "")


def content_edit(req: Req) -> Response:
    from commsbot.content.items import require_item
    from commsbot.content.types import content_type

    ctype = content_type(req.params["kind"])
    item = require_item(req.store, ctype, req.params["slug"])
    shown = {
        k: ", ".join(v) if isinstance(v, list) else "" if v is None else str(v)
        for k, v in item.items()
    }
    return content_form(req, ctype.name, req.params["slug"], shown, "")


def content_form(
    req: Req, kind: str, slug: str, data: dict[str, str], error: str, status: int = 200
) -> Response:
    """The add/edit form; a validation message from the CLI's checks is shown beside the
    field its English names (``practice 'x': city: unknown city ...``), in the user's
    language."""
    from commsbot.content.types import TYPES

    ctype = TYPES[kind]
    field_errors: dict[str, str] = {}
    for f in ctype.fields:
        if error and (f": {f.name}: " in error or f": {f.name} " in error):
            field_errors[f.name] = req.words.say(error)
            break
    return req.page(
        "content_form",
        status,
        ctype=ctype,
        slug=slug,
        data=data,
        error=req.words.say(error) if not field_errors else "",
        field_errors=field_errors,
        cities=_reference(req, "cities"),
        themes=_reference(req, "themes"),
    )


def _reference(req: Req, which: str) -> list[dict[str, Any]]:
    from commsbot.content import items as content_ops

    return content_ops.cities(req.store) if which == "cities" else content_ops.themes(req.store)


def _columns(kind: str) -> set[str]:
    from commsbot.content.types import TYPES

    return {f.name for f in TYPES[kind].fields}


def feeds(req: Req, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """The feeds and their state, the add form (with a refusal beside its field), and
    the removal to confirm when one was asked for."""
    from commsbot.feeds import manage

    return req.page(
        "feeds",
        status,
        feeds=manage.all_feeds(req.store),
        note=req.query.get("note", ""),
        errors=errors or {},
        confirm=req.query.get("remove", ""),
        form={k: req.field(k) for k in ("url", "kind", "city", "theme")},
        cities=_reference(req, "cities"),
        themes=_reference(req, "themes"),
    )


def subscribers(req: Req, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    """Subscribers found by address and status; the add form (a refusal beside its
    field) and the removal or forgetting to confirm."""
    from commsbot.digests import subscribers as subs
    from commsbot.i18n import LANGUAGES

    words = req.query.get("q", "").strip().lower()
    wanted = req.query.get("status", "")
    found = subs.listed(req.store, channel=None, frequency=None, status=wanted or None)
    rows = [s for s in found if not words or words in str(s["address"]).lower()]
    return req.page(
        "subscribers",
        status,
        errors=errors or {},
        form={k: req.field(k) for k in ("email", "frequency", "language", "account")},
        chosen_cities=req.fields("city"),
        chosen_themes=req.fields("theme"),
        cities=_reference(req, "cities"),
        themes=_reference(req, "themes"),
        languages=LANGUAGES,
        email_accounts=req.config.enabled_accounts("email") or ["email"],
        remove=req.query.get("remove", ""),
        rows=rows[:PAGE_SIZE],
        total=len(rows),
        words=words,
        chosen_status=wanted,
        note=req.query.get("note", ""),
        confirm=req.query.get("confirm", ""),
    )


def content_export(req: Req) -> Response:
    """``content export`` as a download: JSON of every type (or one), CSV of one type."""
    from commsbot.content.items import export_csv, export_data
    from commsbot.content.types import TYPES

    kind = req.query.get("type", "")
    fmt = req.params["fmt"]
    if fmt not in ("csv", "json"):
        return req.error(404, N_("Not found"), NO_FORMAT)
    if fmt == "csv":
        kind = kind if kind in TYPES else "practice"
        return _download(
            export_csv(req.store, kind), f"commsbot-{TYPES[kind].plural}.csv", "text/csv"
        )
    chosen = [kind] if kind in TYPES else None
    body = json.dumps(export_data(req.store, chosen), ensure_ascii=False, indent=2) + "\n"
    name = TYPES[kind].plural if chosen else "content"
    return _download(body, f"commsbot-{name}.json", "application/json")


NO_FORMAT = N_("Content is exported as .json or .csv: use the links on the Content page.")


def settings(req: Req) -> Response:
    """The config as loaded, read-only: secrets as the variable that holds them."""
    from commsbot.web.settings import sections

    return req.page("settings", sections=sections(req.config, req.words.gettext))


def image(req: Req) -> Response:
    """An image uploaded in Compose, for its preview and its post's page."""
    from starlette.responses import FileResponse

    from commsbot.content import images

    found = images.find(req.config.store.path, req.params["name"])
    if found is None:
        return req.error(404, N_("No such image"), NO_IMAGE)
    return FileResponse(found, headers={"Cache-Control": "private, max-age=86400"})


NO_IMAGE = N_("There is no uploaded image at this address. Upload it again in Compose.")


def users(req: Req) -> Response:
    from commsbot.web import auth

    return req.page("users", users=auth.list_users(req.store))


def sign_in_page(req: Req) -> Response:
    from commsbot.web.actions import sign_in_form

    if req.user is not None:
        return req.redirect("/")
    return sign_in_form(req, "", "", 200)


def routes(console: Console) -> list[Route]:
    r = console.route
    return [
        r("/", today),
        r("/queue", queue),
        r("/posts/{post_id}", post),
        r("/compose", compose),
        r("/calendar", calendar),
        r("/stats", stats),
        r("/stats/download.{fmt:str}", stats_download),
        r("/stats/report", report),
        r("/stats/movement.{fmt:str}", movement_download),
        r("/stats/audience.{fmt:str}", movement_download),
        r("/content", content),
        r("/content/export.{fmt:str}", content_export),
        r("/content/{kind}/new", content_new),
        r("/content/{kind}/{slug}", content_edit),
        r("/feeds", feeds),
        r("/subscribers", subscribers),
        r("/users", users, role="admin"),
        r("/settings", settings, role="admin"),
        r("/images/{name:str}", image),
        r("/sign-in", sign_in_page, role="public"),
    ]
