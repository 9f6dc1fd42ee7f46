"""Each chat's fair share of the bot: one chat that floods it cannot slow the others.

The bot handles updates one at a time, and every reply waits for Telegram's limit of about
30 messages a second per bot, so 300 commands from one chat used to hold another user's
/start for ten seconds. Each chat gets a token bucket instead: a burst of commands, then a
steady rate. Over it, the chat is told once to slow down, then the bot stays silent (no
reply, no stored row, no store query) until its bucket refills.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets kept at most: beyond it, full ones (chats that went quiet) are forgotten first.
MAX_CHATS = 10_000


class Verdict(enum.Enum):
    ANSWER = "answer"
    WARN = "warn"  # the first update over the share: say so, once
    SILENT = "silent"


@dataclass
class _Bucket:
    tokens: float
    at: float
    warned: bool = False


class FairShare:
    """``take(chat)`` for each update: answer it, warn once, or stay silent."""

    def __init__(
        self,
        burst: int,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_chats: int = MAX_CHATS,
    ) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self.clock = clock
        self.max_chats = max_chats
        self._buckets: dict[int, _Bucket] = {}

    def take(self, chat_id: int) -> Verdict:
        """Spend one of the chat's tokens, if it has one."""
        now = self.clock()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            if len(self._buckets) >= self.max_chats:
                self._forget(now)
            bucket = self._buckets[chat_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return Verdict.ANSWER
        if bucket.warned:
            return Verdict.SILENT
        bucket.warned = True
        return Verdict.WARN

    def wait_seconds(self, chat_id: int) -> int:
        """Seconds until the chat has a token again (for the warning)."""
        bucket = self._buckets.get(chat_id)
        if bucket is None or bucket.tokens >= 1 or self.per_second <= 0:
            return 0
        return max(1, round((1 - bucket.tokens) / self.per_second))

    def _forget(self, now: float) -> None:
        """Forget chats whose bucket is full by now; if none, the oldest half."""
        full = [
            chat
            for chat, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.per_second >= self.burst
        ]
        for chat in full or list(self._buckets)[: self.max_chats // 2 or 1]:
            del self._buckets[chat]
