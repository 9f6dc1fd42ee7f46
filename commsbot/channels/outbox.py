"""The embedded default channel: each post becomes a file, plus one JSON line in a log.

It needs no credentials, so a new installation shows the whole pipeline working, and
a comms officer can read exactly what would have gone out.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar

from commsbot.channels.base import Channel, ChannelSettings, Delivery, Rendered

log = logging.getLogger("commsbot.channels.outbox")

# The string encoder json.dumps(..., ensure_ascii=False) calls for each string (C in CPython).
# A log line is joined from its fields' encodings: json.dumps of the line's dict also builds
# an encoder, a list of chunks and a join per post, ~25 K of a post's ~1,086 K instructions
# (#15). ``log_line`` is byte-identical to it (tests/test_outbox.py checks it against
# json.dumps for any text).
_STR = json.encoder.encode_basestring


def _str_or_null(text: str | None) -> str:
    return "null" if text is None else _STR(text)


def log_line(post: Rendered, name: str, stamp: str, image: str | None) -> str:
    """The post's line in outbox.jsonl: json.dumps(..., ensure_ascii=False) of its fields
    (in this order; image and image_alt only when it has an image), and a newline."""
    thread = ", ".join(map(_STR, post.thread))
    shown = (
        f', "image": {_STR(image)}, "image_alt": {_str_or_null(post.image_alt)}' if image else ""
    )
    return (
        f'{{"post_id": {post.post_id:d}, "type": {_STR(post.item_type)}, '
        f'"item": {_STR(post.item_ref)}, "text": {_STR(post.text)}, "thread": [{thread}], '
        f'"link": {_str_or_null(post.link)}{shown}, '
        f'"idempotency_key": {_STR(post.idempotency_key)}, "written_at": {_STR(stamp)}, '
        f'"file": {_STR(name)}}}\n'
    )


# Each post's file: created, or emptied when an earlier attempt left it.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


@dataclass(frozen=True)
class OutboxSettings(ChannelSettings):
    enabled: bool = True
    path: Path = Path("outbox")
    # The length the posts are rendered to: the outbox stands in for a real channel.
    max_length: int = 500


class OutboxChannel(Channel):
    kind = "outbox"
    account_keys = ("path",)
    max_length = 500
    # Local files: no platform to protect, so no pace (a pace here only made a run sleep).
    rate_per_second = math.inf
    batch_size = 1000
    preview = True
    Settings: ClassVar[type[ChannelSettings]] = OutboxSettings

    def __init__(self, settings: ChannelSettings, name: str | None = None) -> None:
        super().__init__(settings, name)
        assert isinstance(settings, OutboxSettings)
        self.folder = settings.path
        # os.path.join(folder, name) for every post's name, joined once.
        self._prefix = os.path.join(settings.path, "")
        self._limit = settings.max_length
        self._log: IO[str] | None = None
        self._second = -1
        self._stamp_text = ""

    def limit(self) -> int:
        return self._limit

    def _stamp(self) -> str:
        """The time to the second, formatted once a second rather than once a post."""
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._stamp_text = datetime.fromtimestamp(second, UTC).isoformat()
        return self._stamp_text

    async def close(self) -> None:
        if self._log is not None:
            # Dispatch flushed each batch: closing has nothing left to write.
            self._log.close()
            self._log = None

    async def flush(self) -> None:
        """Append the batch's log lines: one write for the batch, not one per post."""
        if self._log is None:
            return
        try:
            self._log.flush()
        except OSError as exc:
            # The posts' files are written, so they are sent; only the log lost lines.
            log.error("outbox %s: log lines not written: %s", self.folder, exc.strerror or exc)

    async def send(self, post: Rendered) -> Delivery:
        # Local files are cheap: writing them on the loop costs less than a thread hop.
        name = f"{post.post_id:06d}-{post.item_type}-{post.item_ref}.txt"
        target = self._prefix + name
        try:
            if self._log is None:
                # Opened on first use, so a broken folder is a retryable send, not a crash.
                self.folder.mkdir(parents=True, exist_ok=True)
                # Block-buffered: dispatch calls flush() once per batch.
                self._log = open(  # noqa: SIM115  (kept open across sends, closed in close())
                    self.folder / "outbox.jsonl", "a", encoding="utf-8"
                )
            # A thread's parts after its first post, each after a blank line.
            body = "\n\n".join((post.text, *post.thread)) if post.thread else post.text
            # os.open/os.write: half the cost of open() and a text wrapper per file.
            fd = os.open(target, _NEW_FILE, 0o644)
            try:
                os.write(fd, f"{body}\n".encode())
            finally:
                os.close(fd)
            image = self._image(post, name) if post.image else None
            self._log.write(log_line(post, name, self._stamp(), image))
        except MissingImage as exc:
            return Delivery.failed(post.post_id, str(exc))
        except OSError as exc:
            return Delivery.retry_later(
                post.post_id, f"outbox {self.folder}: {exc.strerror or exc}"
            )
        return Delivery.sent(post.post_id, name, f"file://{target}")

    def _image(self, post: Rendered, name: str) -> str:
        """The post's image as it went out: a URL as it is, a file copied beside the post's
        file (named like it), so the outbox shows exactly what a platform would receive."""
        assert post.image is not None
        if re.match(r"https?://", post.image, re.IGNORECASE):
            return post.image
        source = Path(post.image).expanduser()
        copy = f"{name.removesuffix('.txt')}{source.suffix}"
        try:
            shutil.copyfile(source, self.folder / copy)
        except FileNotFoundError:
            raise MissingImage(f"image {post.image}: no such file") from None
        return copy


class MissingImage(Exception):
    """A post's image file is not there: the post fails rather than go without it."""
