"""The console's ASGI app: routing, sessions, CSRF, roles, headers and error pages.

Handlers are plain functions ``handler(req: Req) -> Response`` run on one worker thread
that owns the console's store connection (SQLite connections are per thread), so the
event loop that the scheduler and the bot share never waits on a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import FormData, MutableHeaders, QueryParams
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from commsbot.clock import Clock, utcnow
from commsbot.config import Config
from commsbot.i18n import DEFAULT, LANGUAGES, N_, Speaker, from_accept_language, speaker
from commsbot.insights.figures import KeptCells
from commsbot.store import Store
from commsbot.web import auth

log = logging.getLogger("commsbot.web")
COOKIE = "commsbot_session"
STATIC = Path(__file__).parent / "static"
# No inline script or style anywhere; forms post only here; no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class Req:
    """What a handler gets: the request's parts, the user, the store and the console."""

    console: Console
    method: str
    path: str
    params: dict[str, str]
    query: QueryParams
    form: FormData | None
    user: auth.User | None
    address: str
    htmx: bool = False
    cookies: dict[str, str] = field(default_factory=dict)
    accept_language: str = ""  # the browser's Accept-Language header

    @property
    def language(self) -> str:
        """The page's language: the user's choice, else the browser's, else English."""
        from commsbot.i18n import LANGUAGES, from_accept_language

        chosen = self.user.language if self.user is not None else None
        return chosen if chosen in LANGUAGES else from_accept_language(self.accept_language)

    @property
    def store(self) -> Store:
        return self.console.store

    @property
    def config(self) -> Config:
        return self.console.config

    def now(self) -> datetime:
        return self.console.clock()

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def upload(self, name: str, limit: int = 10 << 20) -> tuple[str, bytes] | None:
        """A file sent in the form as (its name, its bytes); None when none was chosen.
        One over ``limit`` bytes is refused, saying so."""
        from starlette.datastructures import UploadFile

        from commsbot.errors import N_, ContentError

        value = self.form.get(name) if self.form is not None else None
        if not isinstance(value, UploadFile) or not value.filename:
            return None
        data = value.file.read(limit + 1)
        if len(data) > limit:
            raise ContentError(
                N_("%(file)s: larger than %(size)s MB"), file=value.filename, size=limit >> 20
            )
        return value.filename, data

    def url(self, path: str) -> str:
        return self.console.root + path

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.console.page(self, template, status, **context)

    @property
    def words(self) -> Speaker:
        """The words of the page's language, for messages made in Python."""
        return speaker(self.language, self.config.service.templates)

    def error(self, status: int, title: str, message: str) -> HTMLResponse:
        """The error page, its fixed title and message in the page's language."""
        words = self.words
        return self.page(
            "error", status, title=words.gettext(title), message=words.gettext(message)
        )

    def redirect(self, path: str, note: str = "") -> RedirectResponse:
        from urllib.parse import quote

        target = self.url(path)
        if note:
            target += ("&" if "?" in target else "?") + "note=" + quote(note)
        return RedirectResponse(target, status_code=303)


Handler = Callable[[Req], Response]


class Console:
    """One console over one config: its store (on its own thread), templates and clock."""

    def __init__(self, config: Config, *, clock: Clock = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.root = config.web.root_path
        self.zone = config.zone  # built once: every time on a page goes through local()
        self.idle = timedelta(hours=config.web.session_hours)
        self.longest = timedelta(days=config.web.max_days)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commsbot-web")
        self._store: Store | None = None
        # The stats page's figures by (period, the store's data_version); see pages.
        self.cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        # Each week's figures, read again only when that week's changed (see pages).
        self.weeks = KeptCells()
        # One template environment per language, made when a page is first shown in it.
        self._envs: dict[str, jinja2.Environment] = {}
        self.env = self.env_for(DEFAULT)

    def env_for(self, language: str) -> jinja2.Environment:
        """The templates speaking ``language``: its words, dates and numbers."""
        if language in self._envs:
            return self._envs[language]
        from commsbot.content import images
        from commsbot.render import Renderer
        from commsbot.web import views

        config = self.config
        renderer = Renderer(config.service.templates, language)
        env = renderer.env
        # Only a digest fills slots after rendering (``render.Slot``); the console's pages
        # have none, so they skip the finalize that looks for slot marks in every printed
        # value (a call per value: a tenth of a month's calendar).
        env.finalize = None
        words = renderer.words

        def local(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
            """A stored time in the config's zone, as this language writes it."""
            if not stamp or words.language == DEFAULT:
                return self.local(stamp, fmt)
            when = datetime.fromisoformat(stamp).astimezone(self.zone)
            return words.datetime(when, format="short") if "%H" in fmt else words.date(when)

        state_label: Callable[[str], str] = views.state_label
        state_badge = views.state_badge
        if language != DEFAULT:  # a post's state in this language
            from markupsafe import Markup

            from commsbot.render import POST_STATUS_LABELS

            state_label = renderer.label(POST_STATUS_LABELS)

            def state_badge(status: str) -> Markup:
                return Markup('<span class="state state-%s">%s</span>') % (
                    status,
                    state_label(status),
                )

        # Figures as the console's language writes them (the report's filter, too).
        env.filters.update(thousands=words.number, local=local)
        env.globals.update(
            console_languages=[(code, speaker(code).language_name(code)) for code in LANGUAGES],
            url=lambda p: self.root + p,
            state_label=state_label,
            state_badge=state_badge,
            csrf_input=views.csrf_input,
            day_posts=views.day_posts,
            day_free_slots=views.day_free_slots,
            move_choices=views.move_choices,
            pairs=lambda values: [(v, v) for v in values],
            labelled=lambda values: [(v, state_label(v)) for v in values],
            named=lambda rows: [(r["slug"], r["name"]) for r in rows],
            config_zone=config.service.timezone,
            upload_name=images.name_of,
        )
        self._envs[language] = env
        return env

    @property
    def store(self) -> Store:
        """The console's connection; only ever used on the console's thread."""
        if self._store is None:
            self._store = Store(self.config.store.path)
            # Pages read thousands of rows at random (a month of posts, a period's
            # engagement): mapped pages and a larger cache spare a system call per page.
            self._store.conn.execute(f"PRAGMA mmap_size = {256 << 20}")
            self._store.conn.execute(f"PRAGMA cache_size = -{64 << 10}")
        return self._store

    def changed(self) -> int:
        """A number that changes whenever another connection (the service) commits."""
        return int(self.store.scalar("PRAGMA data_version"))

    async def call(self, fn: Callable[[], Response]) -> Response:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def close(self) -> None:
        def close_store() -> None:
            if self._store is not None:
                self._store.close()
                self._store = None

        await asyncio.get_running_loop().run_in_executor(self._pool, close_store)
        self._pool.shutdown(wait=True)

    def local(self, stamp: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not stamp:
            return ""
        return datetime.fromisoformat(stamp).astimezone(self.zone).strftime(fmt)

    def page(self, req: Req, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.env_for(req.language).get_template(f"web/{template}.html.j2")
        context.setdefault("note", req.query.get("note", "") if req.query is not None else "")
        html = body.render(user=req.user, path=req.path, req=req, **context)
        return HTMLResponse(html, status_code=status)

    # -- the guard every route goes through ------------------------------------------

    def route(
        self, path: str, handler: Handler, *, methods: tuple[str, ...] = ("GET",), role: str = ""
    ) -> Route:
        """A route whose handler runs signed-in (unless ``role`` is "public"), with CSRF
        checked on every POST, and 403 unless the user has ``role`` ("write", "admin")."""

        async def endpoint(request: Request) -> Response:
            form = await request.form() if request.method == "POST" else None
            address = request.client.host if request.client else ""
            req = Req(
                console=self,
                method=request.method,
                path=request.url.path,
                params=dict(request.path_params),
                query=request.query_params,
                form=form,
                user=None,
                address=address,
                htmx=request.headers.get("HX-Request") == "true",
                cookies=dict(request.cookies),
                accept_language=request.headers.get("Accept-Language", ""),
            )
            return await self.call(lambda: self._guarded(req, handler, role))

        return Route(path, endpoint, methods=list(methods))

    def _guarded(self, req: Req, handler: Handler, role: str) -> Response:
        token = req.cookies.get(COOKIE, "")
        if token:
            req.user = auth.session(self.store, token, self.clock(), self.idle, self.longest)
        if role != "public":
            if req.user is None:
                if req.method == "POST":
                    return req.error(403, N_("Signed out"), SIGNED_OUT)
                return RedirectResponse(self.root + "/sign-in", status_code=303)
            if req.method == "POST":
                sent = req.field("csrf")
                if not sent or not hmac.compare_digest(sent, req.user.csrf):
                    return req.error(403, N_("Form expired"), BAD_CSRF)
            if (role == "write" and not req.user.can_write) or (
                role == "admin" and not req.user.is_admin
            ):
                return req.error(403, N_("Not allowed"), NOT_ALLOWED)
        from commsbot.errors import ContentError

        if req.method == "POST":
            self.cache.clear()  # a change of the console's own (an edited title) shows at once
        try:
            return handler(req)
        except ContentError as exc:  # the officer's mistake, said as the CLI says it
            return req.page(
                "error", 400, title=req.words.gettext("Not done"), message=req.words.say(exc)
            )
        except Exception:
            # Other errors may name files (the store, the config): logged, never shown.
            log.exception("console: %s %s failed", req.method, req.path)
            return req.error(500, N_("Server error"), BROKEN)


SIGNED_OUT = N_("Your session has ended. Sign in again, then repeat what you were doing.")
BAD_CSRF = N_(
    "This form was not sent by this console's page, or the page is older than your "
    "session. Go back, reload the page and send it again."
)
NOT_ALLOWED = N_(
    "Your role does not allow this. An officer can make this change; an admin can give "
    "you another role with commsbot users."
)
NOT_FOUND = N_("There is nothing at this address. Use the menu to find what you are looking for.")
NOT_HERE = N_("This address does not take that kind of request.")
BROKEN = N_(
    "Something went wrong on the server; nothing you sent was lost. Try again, and if it "
    "happens again, the service log says what failed."
)


def create_app(config: Config, *, clock: Clock = utcnow) -> Starlette:
    """The console for ``config``: routes, static files, error pages, security headers."""
    from commsbot.web import actions, pages

    console = Console(config, clock=clock)
    routes: list[BaseRoute] = [
        *pages.routes(console),
        *actions.routes(console),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        language = from_accept_language(request.headers.get("Accept-Language"))
        words = speaker(language, config.service.templates)
        template = console.env_for(language).get_template("web/error.html.j2")
        html = template.render(
            user=None,
            path="",
            req=None,
            title=words.gettext(title),
            message=words.gettext(message),
        )
        return HTMLResponse(html, status_code=status)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            return error_page(request, 405, N_("Not here"), NOT_HERE)
        return error_page(request, 404, N_("Not found"), NOT_FOUND)

    async def broken(request: Request, exc: Exception) -> Response:
        log.error("console: %s %s failed: %r", request.method, request.url.path, exc)
        return error_page(request, 500, N_("Server error"), BROKEN)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await console.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(ResponseHeaders)],
        exception_handlers={404: not_found, 405: not_found, 500: broken, Exception: broken},
        lifespan=lifespan,
    )
    app.state.console = console
    return app


class ResponseHeaders:
    """Adds the CSP and its companions to every response (static files are cacheable),
    and a ``Server-Timing`` header saying how long the console took over it, from the
    request coming in to its headers going out (``app;dur=12.3``, milliseconds), so a
    benchmark or a browser's network panel sees the server's share apart from the round
    trip. A duration only: no name of a query, file or user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in HEADERS.items():
                    if not (static and key == "Cache-Control"):
                        headers.setdefault(key, value)
                took = (time.perf_counter() - started) * 1000
                headers.append("Server-Timing", f"app;dur={took:.1f}")
            await send(message)

        await self.app(scope, receive, with_headers)


def set_session_cookie(response: Response, console: Console, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(console.longest.total_seconds()),
        path=console.root or "/",
        httponly=True,
        samesite="strict",
        secure=console.config.web.secure,
    )
