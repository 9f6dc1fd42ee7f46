"""The console under uvicorn: a long-running part of ``commsbot run`` (same event loop as
the scheduler and the bot), or alone with ``commsbot web``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from commsbot.config import Config
from commsbot.errors import CommsbotError

if TYPE_CHECKING:
    import uvicorn

    from commsbot.service.jobs import JobContext
    from commsbot.store import Store

log = logging.getLogger("commsbot.web")


class WebServer:
    """``start`` returns once the console listens; ``stop`` closes it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        """The bound port (port 0 in the config asks the system for a free one)."""
        assert self._socket is not None
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        import uvicorn

        from commsbot.web.app import create_app

        web = self.config.web
        config = uvicorn.Config(
            create_app(self.config),
            host=web.host,
            port=web.port,
            log_level="warning",
            access_log=False,
            # The service owns the signals: uvicorn must not take SIGINT from it.
            lifespan="on",
            proxy_headers=True,
            server_header=False,
        )
        # Bound here, not by uvicorn, whose bind errors end the process (sys.exit).
        try:
            family = socket.AF_INET6 if ":" in web.host else socket.AF_INET
            self._socket = socket.create_server((web.host, web.port), family=family)
            # Answers without Nagle's wait: asyncio turns it off only for sockets made with
            # proto IPPROTO_TCP, and create_server's are proto 0, so each answer written in
            # two parts (headers, then body) waited ~40 ms for the browser's delayed ACK.
            # Accepted connections take the option from the listening socket.
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, OverflowError) as exc:
            raise CommsbotError(
                f"web: the console cannot listen on {web.host}:{web.port} "
                f"({getattr(exc, 'strerror', None) or exc}); set [web] host and port"
            ) from None
        server = _server_class()(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[self._socket]))
        while not server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise CommsbotError("web: the console stopped while starting (see the log)")
            await asyncio.sleep(0.02)
        log.info("console listening on %s", self.url())

    def url(self) -> str:
        web = self.config.web
        if web.base_url:
            return web.public_url
        return f"http://{web.host}:{self.port}"

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = None
        if self._socket is not None:
            self._socket.close()


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Quiet(uvicorn.Server):
        """A uvicorn server that leaves the signals to the service that runs it."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Quiet


class _WebPart:
    """The console as a service part; it prints the first-run sign-in link when due."""

    def __init__(self, ctx: JobContext) -> None:
        self.server = WebServer(ctx.config)
        self.ctx = ctx

    async def start(self) -> None:
        await self.server.start()
        announce(self.ctx.store, self.server.url(), self.ctx.clock())

    async def stop(self) -> None:
        await self.server.stop()


def web_part(ctx: JobContext) -> _WebPart:
    return _WebPart(ctx)


def needs_web(config: Config) -> str | None:
    return None if config.web.enabled else "[web] enabled is false"


def announce(store: Store, url: str, now: datetime) -> None:
    """Print where the console is and, on a store without users, a one-time sign-in link
    (like Jupyter's token). Printed, not logged: a log collector must not keep it."""
    from commsbot.web import auth

    print(f"console: {url}/", flush=True)
    token = auth.first_run_link(store, now)
    if token:
        print(
            f"console: sign in once (30 minutes) at {url}/sign-in/link?token={token}",
            flush=True,
        )
