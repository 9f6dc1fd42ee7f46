"""Headless Chromium driven over the DevTools protocol on a pipe (stdlib only).

``--remote-debugging-pipe`` makes Chromium read commands on fd 3 and write replies and
events on fd 4, as NUL-terminated JSON: no port, no websocket client. A page is loaded,
and what a person would notice is collected: console errors, uncaught exceptions, log
errors (failed loads) and every request the page made.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.base import missing_part

CHROMIUM = "/usr/bin/chromium"
DEADLINE_SECONDS = 60.0
# Run in the child: put the two pipe ends on fds 3 and 4 (via copies above 10, so that no
# end is overwritten by the other), then become Chromium.
_ONTO_3_AND_4 = (
    "import fcntl, os, sys\n"
    "a, b = (fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, 10) for fd in sys.argv[1:3])\n"
    "os.dup2(a, 3)\n"
    "os.dup2(b, 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def chromium_or_skip() -> str:
    """The chromium binary; without it, skip with a reason, or fail when CI=true."""
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if found:
        return found
    reason = "chromium is not installed (apt-get install chromium); the report is not rendered"
    missing_part(reason)


@dataclass
class PageLoad:
    """What one page load showed."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    facts: Any = None


class Chromium:
    """One headless browser; ``close`` ends it (a context manager does so)."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _ONTO_3_AND_4,
                str(to_child),
                str(from_child),
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send("Browser.close", {}, None)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._write)
        os.close(self._read)

    # -- protocol ----------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise ConnectionError("chromium closed its pipe")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        """Send a command and wait for its result; events meanwhile are kept."""
        wanted = self._send(method, params or {}, session)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def wait_for(self, event: str, session: str) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            for i, message in enumerate(self._events):
                if message.get("method") == event and message.get("sessionId") == session:
                    del self._events[i]
                    return
            self._events.append(self._receive(deadline))

    # -- a page ------------------------------------------------------------------------

    def load(
        self, url: str, facts_js: str, screenshot: Path, *, width: int = 390, height: int = 844
    ) -> PageLoad:
        """Open ``url`` at a phone's size, evaluate ``facts_js``, save a full-page PNG."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", {}, session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
            session,
        )
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        facts = self.call(
            "Runtime.evaluate", {"expression": facts_js, "returnByValue": True}, session
        )
        if "exceptionDetails" in facts:
            raise RuntimeError(f"facts script failed: {facts['exceptionDetails']}")
        shot = self.call(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        page = PageLoad(facts=facts["result"].get("value"))
        for message in self._events:
            if message.get("sessionId") != session:
                continue
            page.errors.extend(_error(message))
            if message.get("method") == "Network.requestWillBeSent":
                page.requests.append(message["params"]["request"]["url"])
        self.call("Target.closeTarget", {"targetId": target})
        return page


def _error(message: dict[str, Any]) -> list[str]:
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        described = details.get("exception", {}).get("description", "")
        return [f"exception: {details.get('text')} {described}".strip()]
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return [f"console.{params['type']}: {params.get('args')}"]
    if method == "Log.entryAdded" and params["entry"].get("level") == "error":
        return [f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}"]
    return []


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    """Headless Chromium on a fresh profile; skips without it (fails when CI=true)."""
    binary = chromium_or_skip()
    with Chromium(binary, tmp_path / "profile") as chromium:
        yield chromium


@contextlib.contextmanager
def playwright_chromium() -> Iterator[Any]:
    """Playwright's Chromium: Debian's binary, launched by its path (never a download)."""
    binary = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()
