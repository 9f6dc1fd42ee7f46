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
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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

        from commsbot.errors import ContentError

        value = self.form.get(name) if self.form is not None else None
        if not isinstance(value, UploadFile) or not value.filename:
            return None
        data = value.file.read(limit + 1)
        if len(data) > limit:
            raise ContentError(f"{value.filename}: larger than {limit >> 20} MB")
        return value.filename, data

    def url(self, path: str) -> str:
        return self.console.root + path

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.console.page(self, template, status, **context)

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
        from commsbot.render import Renderer

        self.config = config
        self.clock = clock
        self.root = config.web.root_path
        self.idle = timedelta(hours=config.web.session_hours)
        self.longest = timedelta(days=config.web.max_days)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commsbot-web")
        self._store: Store | None = None
        # The stats page's figures by (period, the store's data_version); see pages.
        self.cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        renderer = Renderer(config.service.templates)
        self.env = renderer.env
        from commsbot.content import images
        from commsbot.web import views

        # Figures as the console's language writes them (the report's filter, too).
        self.env.filters.update(thousands=renderer.words.number, local=self.local)
        self.env.globals.update(
            url=lambda p: self.root + p,
            state_label=views.state_label,
            state_badge=views.state_badge,
            csrf_input=views.csrf_input,
            pairs=lambda values: [(v, v) for v in values],
            labelled=lambda values: [(v, views.state_label(v)) for v in values],
            named=lambda rows: [(r["slug"], r["name"]) for r in rows],
            config_zone=config.service.timezone,
            upload_name=images.name_of,
        )

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
        return datetime.fromisoformat(stamp).astimezone(self.config.zone).strftime(fmt)

    def page(self, req: Req, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.env.get_template(f"web/{template}.html.j2")
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
                    return req.page("error", 403, title="Signed out", message=SIGNED_OUT)
                return RedirectResponse(self.root + "/sign-in", status_code=303)
            if req.method == "POST":
                sent = req.field("csrf")
                if not sent or not hmac.compare_digest(sent, req.user.csrf):
                    return req.page("error", 403, title="Form expired", message=BAD_CSRF)
            if (role == "write" and not req.user.can_write) or (
                role == "admin" and not req.user.is_admin
            ):
                return req.page("error", 403, title="Not allowed", message=NOT_ALLOWED)
        from commsbot.errors import ContentError

        if req.method == "POST":
            self.cache.clear()  # a change of the console's own (an edited title) shows at once
        try:
            return handler(req)
        except ContentError as exc:  # the officer's mistake, said as the CLI says it
            return req.page("error", 400, title="Not done", message=str(exc))
        except Exception:
            # Other errors may name files (the store, the config): logged, never shown.
            log.exception("console: %s %s failed", req.method, req.path)
            return req.page("error", 500, title="Server error", message=BROKEN)


SIGNED_OUT = "Your session has ended. Sign in again, then repeat what you were doing."
BAD_CSRF = (
    "This form was not sent by this console's page, or the page is older than your "
    "session. Go back, reload the page and send it again."
)
NOT_ALLOWED = (
    "Your role does not allow this. An officer can make this change; an admin can give "
    "you another role with commsbot users."
)
NOT_FOUND = "There is nothing at this address. Use the menu to find what you are looking for."
BROKEN = (
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

    def error_page(status: int, title: str, message: str) -> Response:
        template = console.env.get_template("web/error.html.j2")
        html = template.render(user=None, path="", req=None, title=title, message=message)
        return HTMLResponse(html, status_code=status)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            return error_page(405, "Not here", "This address does not take that kind of request.")
        return error_page(404, "Not found", NOT_FOUND)

    async def broken(request: Request, exc: Exception) -> Response:
        log.error("console: %s %s failed: %r", request.method, request.url.path, exc)
        return error_page(500, "Server error", BROKEN)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await console.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: not_found, 405: not_found, 500: broken, Exception: broken},
        lifespan=lifespan,
    )
    app.state.console = console
    return app


class SecurityHeaders:
    """Adds the CSP and its companions to every response (static files are cacheable)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in HEADERS.items():
                    if not (static and key == "Cache-Control"):
                        headers.setdefault(key, value)
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
