"""What the console changes (POST): signing in and out, the queue, compose, content,
feeds and subscribers. Each calls the operation the CLI calls, as ``web:NAME``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import Route

from commsbot.errors import ContentError, Message, message_of
from commsbot.i18n import N_
from commsbot.render import FREQUENCY_LABELS, ITEM_TYPE_LABELS, POST_STATUS_LABELS
from commsbot.web import auth, views
from commsbot.web.app import COOKIE, Console, Req, set_session_cookie

if TYPE_CHECKING:
    from commsbot.i18n import Speaker


def _actor(req: Req) -> str:
    assert req.user is not None
    return f"web:{req.user.name}"


# -- the console's language -------------------------------------------------------------


def choose_language(req: Req) -> Response:
    """The signed-in user's language for the console ("" goes back to the browser's)."""
    from commsbot.i18n import LANGUAGES

    assert req.user is not None
    code = req.field("language").strip().lower()
    if code and code not in LANGUAGES:
        raise ContentError(
            N_("language: unknown %(code)s (known: %(known)s)"),
            code=repr(code),
            known=", ".join(LANGUAGES),
        )
    auth.set_language(req.store, req.user.id, code or None, req.now())
    back = req.field("next")
    # Only a page of this console: a path, never another site ("//elsewhere").
    root = req.console.root
    if not back.startswith(root + "/") or back.startswith(root + "//"):
        back = root + "/"
    return req.redirect(back[len(root) :])


# -- signing in and out -----------------------------------------------------------------


SIGN_IN_COOKIE = "commsbot_sign_in"


def sign_in_form(req: Req, name: str, error: str, status: int) -> Response:
    """The sign-in page. Before a session exists its form is guarded by a double-submit
    token: a random value in a cookie that the form must repeat."""
    token = req.cookies.get(SIGN_IN_COOKIE) or auth.new_token()
    response = req.page("sign_in", status, error=error, name=name, sign_in_token=token)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=req.console.root or "/",
        httponly=True,
        samesite="strict",
        secure=req.config.web.secure,
    )
    return response


def sign_in(req: Req) -> Response:
    import hmac

    name, password = req.field("name").strip(), req.field("password")
    expected = req.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, req.field("csrf")):
        return sign_in_form(req, name, req.words.gettext(STALE), 403)
    try:
        user = auth.sign_in(req.store, name, password, req.address, req.now())
    except auth.Throttled as throttled:
        return sign_in_form(req, name, req.words.say(throttled.message), 429)
    if user is None:
        return sign_in_form(req, name, req.words.gettext(WRONG), 401)
    return _signed_in(req, user.id)


STALE = N_("This sign-in form had expired. Sign in again with this fresh one.")
WRONG = N_("That name and password do not match. Check both and try again.")


def _signed_in(req: Req, user_id: int) -> Response:
    token, _ = auth.open_session(req.store, user_id, req.address, req.now(), req.console.idle)
    response = req.redirect("/")
    set_session_cookie(response, req.console, token)
    return response


def sign_in_link(req: Req) -> Response:
    user_id = auth.use_link(req.store, req.query.get("token", ""), req.now())
    if user_id is None:
        words = req.words
        return req.page(
            "error",
            403,
            title=words.gettext("Link used or expired"),
            message=words.gettext(LINK_GONE),
        )
    return _signed_in(req, user_id)


LINK_GONE = N_(
    "A sign-in link works once and for 30 minutes. Restart the console for a new one, or "
    "sign in with a name and password (commsbot users add)."
)


def sign_out(req: Req) -> Response:
    auth.end_session(req.store, req.cookies.get(COOKIE, ""))
    response = req.redirect("/sign-in")
    response.delete_cookie(COOKIE, path=req.console.root or "/")
    return response


def sign_out_everywhere(req: Req) -> Response:
    assert req.user is not None
    auth.end_sessions(req.store, req.user.id)
    response = req.redirect("/sign-in")
    response.delete_cookie(COOKIE, path=req.console.root or "/")
    return response


# -- the queue --------------------------------------------------------------------------


def _change(req: Req, post_id: int, action: str) -> str:
    """Apply one queue action as the CLI does; the sentence that says what happened."""
    from commsbot.posting import queue as queue_ops
    from commsbot.posting.pipeline import make_channels
    from commsbot.posting.placement import approval_time

    store, config, now, actor = req.store, req.config, req.now(), _actor(req)
    words = req.words
    post = queue_ops.require_post(store, post_id)
    if action == "approve":
        when = approval_time(store, config, post, now)
        queue_ops.approve(store, post_id, now, not_before=when, actor=actor)
        return words.gettext("post %(id)s approved", id=post_id)
    if action == "cancel":
        queue_ops.cancel(store, post_id, now, actor=actor)
        return words.gettext("post %(id)s cancelled", id=post_id)
    if action == "restore":
        restored = queue_ops.restore(store, config, post_id, now, actor=actor)
        status = restored["status"]
        state = words.gettext(POST_STATUS_LABELS.get(status, status))
        return words.gettext("post %(id)s restored: %(state)s", id=post_id, state=state)
    if action == "retry":
        channel = make_channels(config, [post["channel"]])[post["channel"]]
        queue_ops.retry(store, config, channel, post_id, now, actor=actor)
        return words.gettext("post %(id)s queued again", id=post_id)
    raise ContentError(N_("unknown action %(action)s"), action=repr(action))


def post_action(req: Req) -> Response:
    post_id = _post_id(req)
    action = req.params["action"]
    note = _change(req, post_id, action)
    back = req.field("back")
    return req.redirect(back if back in ("/", "/queue") else f"/posts/{post_id}", note)


def _post_id(req: Req) -> int:
    """The post a form acts on: from its address, or the calendar's shared "Move to…"
    form's ``post`` field (one form per page rather than one per post)."""
    text = req.params["post_id"] if "post_id" in req.params else req.field("post")
    try:
        return int(text)
    except ValueError:
        raise ContentError(N_("%(value)s is not a post number"), value=repr(text)) from None


def bulk(req: Req) -> Response:
    action = req.field("action")
    if action not in ("approve", "cancel"):
        raise ContentError(N_("choose approve or cancel for the selected posts"))
    ids = [int(i) for i in req.fields("post") if i.isdigit()]
    if not ids:
        raise ContentError(N_("no post was selected: tick the posts first"))
    done, failed = [], []
    for post_id in ids:
        try:
            _change(req, post_id, action)
            done.append(post_id)
        except ContentError as exc:
            failed.append(req.words.say(exc))
    words = req.words
    if action == "approve":
        note = words.ngettext("%(num)d post approved", "%(num)d posts approved", len(done))
    else:
        note = words.ngettext("%(num)d post cancelled", "%(num)d posts cancelled", len(done))
    if failed:
        note = words.gettext(
            "%(done)s; not changed: %(failed)s", done=note, failed="; ".join(failed)
        )
    return req.redirect("/queue", note)


def edit(req: Req) -> Response:
    """New text or a new time ("move to…"): the same check as ``queue edit``."""
    from commsbot.posting import queue as queue_ops
    from commsbot.posting.pipeline import make_channels

    post_id = _post_id(req)
    post = queue_ops.require_post(req.store, post_id)
    text = req.field("text") or None
    when = req.field("slot") or req.field("at")
    at = views.parse_local(when, req.config.zone, "time") if when else None
    channel = make_channels(req.config, [post["channel"]])[post["channel"]]
    queue_ops.edit(req.store, channel, post_id, req.now(), text=text, at=at, actor=_actor(req))
    words = req.words
    note = (
        words.gettext("post %(id)s moved to %(when)s", id=post_id, when=when.replace("T", " "))
        if at
        else words.gettext("post %(id)s edited", id=post_id)
    )
    back = req.field("back")
    if back == "/calendar":  # back to the week or month the move was made in
        from urllib.parse import urlencode

        view = {k: req.field(k) for k in ("view", "start") if req.field(k)}
        return req.redirect("/calendar" + (f"?{urlencode(view)}" if view else ""), note)
    return req.redirect(f"/posts/{post_id}", note)


# -- compose ----------------------------------------------------------------------------


def _draft(req: Req) -> tuple[views.Draft, dict[str, str]]:
    """The composer's fields, and what is wrong with its images, beside their fields."""
    accounts = views.post_accounts(req.config)
    chosen = [a for a in req.fields("account") if a in accounts]
    own = {a: req.field(f"own.{a}") for a in chosen if req.field(f"own.{a}").strip()}
    pictures, errors = _pictures(req)
    draft = views.Draft(
        req.field("text"), req.field("link").strip(), chosen, own, pictures, *_languages(req)
    )
    return draft, errors


# An image's fields in the form: the file, the name it is kept by, its alt text and the
# box that removes it, numbered by their place (image.1 ... image.4).
PICTURE_FIELD = re.compile(r"^image(?:_name|_alt|_remove)?\.([0-9]{1,3})$")


def _pictures(req: Req) -> tuple[tuple[views.Picture, ...], dict[str, str]]:
    """The composer's images in order: each file sent is kept at once (so a preview
    without JavaScript keeps it) and named in the form from then on. Beside its field,
    a file that is not an image, an alt text for no image, a missing alt text (only when
    queueing, see ``compose``); beside them all, a fifth image."""
    from commsbot.content import images
    from commsbot.posting.queue import TOO_MANY_IMAGES

    words = req.words
    places = sorted(
        {int(m.group(1)) for key in (req.form or {}) if (m := PICTURE_FIELD.match(key))}
    )
    pictures: list[views.Picture] = []
    errors: dict[str, str] = {}
    for place in places:
        if req.field(f"image_remove.{place}"):
            continue
        alt = req.field(f"image_alt.{place}").strip()
        kept = req.field(f"image_name.{place}")
        name = kept if images.find(req.config.store.path, kept) else ""
        try:
            upload = req.upload(f"image.{place}", images.MAX_BYTES)
        except ContentError as exc:
            upload, problem = None, words.say(exc)
        else:
            problem = ""
        if not (upload or name or alt or problem):
            continue  # an empty slot
        if len(pictures) == images.MOST_IMAGES:
            errors["images"] = words.say(Message(TOO_MANY_IMAGES, most=images.MOST_IMAGES))
            break
        if upload is not None:
            try:
                name = images.keep(req.config.store.path, *upload)
            except ContentError as exc:
                problem = words.say(exc)
        pictures.append(views.Picture(name, alt))
        if problem:
            errors[f"image.{len(pictures)}"] = problem
        elif alt and not name:
            errors[f"image.{len(pictures)}"] = words.gettext(
                "the alt text describes an image: choose the image too"
            )
    return tuple(pictures), errors


def _languages(req: Req) -> tuple[str, dict[str, str]]:
    """The text's language and its translations, one optional field per language; a
    language not among the ten is dropped here and said beside its field by compose."""
    from commsbot.i18n import LANGUAGES

    translations = {
        code: req.field(f"translation.{code}").strip()
        for code in LANGUAGES
        if req.field(f"translation.{code}").strip()
    }
    return req.field("language").strip().lower(), translations


def _language_errors(draft: views.Draft, words: Speaker) -> dict[str, str]:
    """Beside the language field, one not known; beside a translation, one in the text's
    own language (the original already is that version)."""
    from commsbot.i18n import DEFAULT, LANGUAGES

    if draft.language and draft.language not in LANGUAGES:
        said = words.gettext(
            "unknown language %(code)s (known: %(known)s)",
            code=repr(draft.language),
            known=", ".join(LANGUAGES),
        )
        return {"language": said}
    own = draft.language or DEFAULT
    if own in draft.translations:
        said = words.gettext(
            "the text is in %(language)s already: leave this one empty", language=own
        )
        return {f"translation.{own}": said}
    return {}


def preview(req: Req) -> Response:
    """The previews alone for htmx; the whole page without JavaScript."""
    from commsbot.web.pages import compose_page, preview_context

    draft, errors = _draft(req)
    if not req.htmx:
        return compose_page(req, draft, errors=errors)
    return req.page("previews", text=draft.text, **preview_context(req, draft))


def compose(req: Req) -> Response:
    from commsbot.content import images
    from commsbot.posting import queue as queue_ops
    from commsbot.posting.pipeline import make_channels
    from commsbot.web.pages import compose_page

    draft, errors = _draft(req)
    words = req.words
    text, link, chosen = draft.text, draft.link, draft.chosen
    if not text.strip() and not (chosen and all(a in draft.own for a in chosen)):
        errors["text"] = words.gettext("an announcement needs some text")
    if not chosen:
        errors["account"] = words.gettext("choose at least one account")
    for place, picture in enumerate(draft.pictures, 1):
        if picture.name and not picture.alt:
            errors[f"image_alt.{place}"] = words.gettext(queue_ops.NEEDS_ALT)
    errors.update(_language_errors(draft, words))
    if link:
        from commsbot.content.items import _convert
        from commsbot.content.places import Places
        from commsbot.content.types import Field

        try:
            _convert(Field("link", "url"), link, Places())
        except ValueError as exc:
            errors["link"] = req.words.say(exc)
    when = req.field("when", "next-slot")
    now = req.now()
    at = now
    if when == "at":
        try:
            at = views.parse_local(req.field("at"), req.config.zone, "time")
        except ContentError as exc:
            errors["at"] = req.words.say(exc)
    if errors:
        return compose_page(req, draft, errors=errors, status=400)
    kept = [
        (str(found.resolve()), picture.alt)
        for picture in draft.pictures
        if (found := images.find(req.config.store.path, picture.name)) is not None
    ]
    try:
        ids = queue_ops.announce(
            req.store,
            req.config,
            make_channels(req.config, chosen),
            text,
            at=at,
            link=link or None,
            next_slot=when == "next-slot",
            actor=_actor(req),
            now=now,
            image=kept[0][0] if kept else None,
            image_alt=kept[0][1] if kept else None,
            more_images=kept[1:],
            text_for=draft.own,
            language=draft.language or None,
            translations=draft.translations,
        )
    except ContentError as exc:
        errors["text"] = req.words.say(exc)
        return compose_page(req, draft, errors=errors, status=400)
    note = words.gettext("announcement queued as post(s) %(ids)s", ids=", ".join(map(str, ids)))
    return req.redirect("/queue", note)


# -- content, feeds, subscribers ----------------------------------------------------------


def content_save(req: Req) -> Response:
    from commsbot.content import items as content_ops
    from commsbot.content.types import content_type

    ctype = content_type(req.params["kind"])
    slug = req.params.get("slug", "")
    data = {f.name: req.field(f.name).strip() for f in ctype.fields if req.field(f.name).strip()}
    try:
        if slug:
            content_ops.edit_item(req.store, ctype, slug, data, req.now())
        else:
            # The item is named by its type, in the user's language ("Praxis: title …").
            content_ops.add_items(req.store, ctype, [(Message(ctype.name), data)], req.now())
    except ContentError as exc:
        from commsbot.web.pages import content_form

        return content_form(req, ctype.name, slug, data, message_of(exc), status=400)
    note = req.words.gettext(
        "%(type)s saved", type=req.words.gettext(ITEM_TYPE_LABELS.get(ctype.name, ctype.name))
    )
    return req.redirect(f"/content?type={ctype.name}", note)


def subscriber_forget(req: Req) -> Response:
    from commsbot.digests import subscribers as subs

    target = f"#{req.field('id')}"
    if req.field("confirm") != "yes":
        return req.redirect(f"/subscribers?confirm={req.field('id')}")
    subs.forget(req.store, target)
    note = req.words.gettext("subscriber %(who)s forgotten: their data is deleted", who=target)
    return req.redirect("/subscribers", note)


def content_import(req: Req) -> Response:
    """``content import`` from an uploaded file: every row or, unless "skip invalid" is
    ticked, none; a refusal names the row as the CLI does, beside the file field."""
    from commsbot.content.items import import_file
    from commsbot.web.pages import content

    upload = req.upload("file")
    if upload is None:
        message = req.words.gettext("choose a .json or .csv file to import")
        return content(req, import_error=message, status=400)
    name, data = upload
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = req.words.gettext(
            "%(file)s: not UTF-8 text (byte %(byte)s); save the file as UTF-8",
            file=name,
            byte=exc.start,
        )
        return content(req, import_error=message, status=400)
    try:
        added, skipped = import_file(
            req.store,
            Path(PurePath(name).name),  # a label only: the text is the upload's
            req.now(),
            type_name=req.field("type") or None,
            skip_invalid=req.field("skip_invalid") == "yes",
            text=text,
        )
    except ContentError as exc:
        return content(req, import_error=req.words.say(exc), status=400)
    words = req.words
    parts = [IMPORTED[t](words, n) for t, n in added.items()] or [words.gettext("nothing")]
    note = words.gettext("imported %(what)s from %(file)s", what=", ".join(parts), file=name)
    if skipped:
        return content(req, import_note=note, skipped=[words.say(s) for s in skipped])
    return req.redirect("/content", note)


# How many items of each type an import added, with the type's plural in the language.
IMPORTED: dict[str, Callable[[Speaker, int], str]] = {
    "practice": lambda w, n: w.ngettext("%(num)d practice", "%(num)d practices", n),
    "event": lambda w, n: w.ngettext("%(num)d event", "%(num)d events", n),
    "newsletter": lambda w, n: w.ngettext("%(num)d newsletter", "%(num)d newsletters", n),
    "news": lambda w, n: w.ngettext("%(num)d news item", "%(num)d news items", n),
}


def feed_add(req: Req) -> Response:
    """``feeds add`` with its checks; a refusal is shown beside the field it is about."""
    from commsbot.feeds import manage
    from commsbot.web.pages import feeds

    url, kind = req.field("url").strip(), req.field("kind", "news")
    city, theme = req.field("city") or None, req.field("theme") or None
    try:
        manage.add(req.store, req.config, url, kind, city, theme, req.now())
    except ContentError as exc:
        said = str(exc)  # the field it is about, by the English that names it first
        where = next((k for k in ("city", "theme") if said.startswith(f"--{k}")), "url")
        return feeds(req, errors={where: req.words.say(exc)}, status=400)
    note = req.words.gettext(
        "added %(kind)s feed %(url)s; it is polled at the next run", kind=kind, url=url
    )
    return req.redirect("/feeds", note)


def feed_check(req: Req) -> Response:
    """``feeds check URL`` (or every enabled feed): poll now and say what each gave."""
    from commsbot.feeds import manage

    url = req.field("url").strip()
    report = manage.check(req.store, req.config, [url] if url else None)
    if not report.outcomes:  # a feed named and not known is refused by the check itself
        raise ContentError(N_("no feed to check"))
    words = req.words
    said = []
    for o in report.outcomes:
        result = words.gettext(FEED_RESULTS.get(o.result, o.result))
        if o.stored.new:
            new = words.ngettext("%(num)s new", "%(num)s new", o.stored.new)
            result = words.gettext("%(result)s, %(new)s", result=result, new=new)
        if o.error or o.warning:
            result = words.gettext(
                "%(result)s (%(problem)s)", result=result, problem=o.error or o.warning
            )
        said.append(f"{o.url}: {result}")
    return req.redirect("/feeds", words.gettext("checked %(results)s", results="; ".join(said)))


# What a feed's poll gave, as said after "check now".
FEED_RESULTS = {
    "stored": N_("stored"),
    "not modified": N_("not modified"),
    "failed": N_("failed"),
    "disabled": N_("disabled"),
}


def feed_remove(req: Req) -> Response:
    """``feeds remove URL``, asked first: a feed set in the config is removed there."""
    from urllib.parse import quote

    from commsbot.feeds import manage

    url = req.field("url").strip()
    manage.removable(req.store, req.config, url, req.now())
    if req.field("confirm") != "yes":
        return req.redirect(f"/feeds?remove={quote(url, safe='')}")
    manage.remove(req.store, url)
    note = req.words.gettext("removed feed %(url)s; the news it brought stay", url=url)
    return req.redirect("/feeds", note)


# Which form field a refusal of ``subscribers add`` is about, by what it names first.
SUBSCRIBER_FIELDS = (
    ("e-mail address", "email"),
    ("frequency", "frequency"),
    ("language", "language"),
    ("city", "city"),
    ("theme", "theme"),
)


def subscriber_add(req: Req) -> Response:
    """``subscribers add EMAIL``: subscribe an address, or change its choices."""
    from commsbot.digests import subscribers as subs
    from commsbot.web.pages import subscribers

    accounts = req.config.enabled_accounts("email") or ["email"]
    account = req.field("account") if req.field("account") in accounts else accounts[0]
    try:
        found = subs.add_email(
            req.store,
            req.field("email"),
            req.field("frequency"),
            req.fields("city"),
            req.fields("theme"),
            req.now(),
            account,
            language=req.field("language") or None,
        )
    except ContentError as exc:
        said = str(exc).lower()  # the field it is about, by the English that names it
        where = next((f for word, f in SUBSCRIBER_FIELDS if word in said), "email")
        return subscribers(req, errors={where: req.words.say(exc)}, status=400)
    words = req.words
    note = words.gettext(
        "subscribed #%(id)s %(address)s: %(frequency)s",
        id=found["id"],
        address=found["address"],
        frequency=words.gettext(FREQUENCY_LABELS.get(found["frequency"], found["frequency"])),
    )
    return req.redirect("/subscribers", note)


def subscriber_remove(req: Req) -> Response:
    """``subscribers remove``, asked first: unsubscribed, the row kept for the history."""
    from commsbot.digests import subscribers as subs

    target = f"#{req.field('id')}"
    if req.field("confirm") != "yes":
        return req.redirect(f"/subscribers?remove={req.field('id')}")
    found = subs.remove(req.store, target, req.now())
    note = req.words.gettext(
        "subscriber %(who)s %(address)s unsubscribed", who=target, address=found["address"]
    )
    return req.redirect("/subscribers", note)


def routes(console: Console) -> list[Route]:
    def r(path: str, handler: object, role: str = "write") -> Route:
        return console.route(path, handler, methods=("POST",), role=role)  # type: ignore[arg-type]

    return [
        r("/sign-in", sign_in, role="public"),
        console.route("/sign-in/link", sign_in_link, role="public"),
        r("/sign-out", sign_out, role=""),
        r("/language", choose_language, role=""),
        r("/sign-out/everywhere", sign_out_everywhere, role=""),
        r("/queue/bulk", bulk),
        r("/posts/{post_id}/edit", edit),
        r("/calendar/move", edit),
        r("/posts/{post_id}/{action}", post_action),
        r("/compose/preview", preview, role=""),
        r("/compose", compose),
        r("/content/import", content_import),
        r("/content/{kind}/new", content_save),
        r("/content/{kind}/{slug}", content_save),
        r("/subscribers/forget", subscriber_forget),
        r("/subscribers/add", subscriber_add),
        r("/subscribers/remove", subscriber_remove),
        r("/feeds/add", feed_add),
        r("/feeds/check", feed_check),
        r("/feeds/remove", feed_remove),
    ]
