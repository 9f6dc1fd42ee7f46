"""Logging: one line per action, as text or JSON lines, with secrets masked.

Secrets never belong in a message; masking the values of the environment variables
that the config names is the net under that rule, not the rule itself. The net covers
every line the program writes: log records, and (``mask_streams``) everything written to
stdout and stderr, so ``click.echo``, ``print``, ``--json`` and error messages alike.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            # As masked by MaskSecrets, which fills exc_text before formatters run.
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class MaskSecrets(logging.Filter):
    """Replaces known secret values in a record's message (and traceback) with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is masked whole. Very short
        # values would mask ordinary words: they are not secrets worth the name. A secret
        # with quotes, backslashes or non-ASCII letters is also masked as JSON writes it.
        long = [s for s in secrets if len(s) >= 4]
        escaped = [json.dumps(s)[1:-1] for s in long] + [
            json.dumps(s, ensure_ascii=False)[1:-1] for s in long
        ]
        found = {*self.secrets, *long, *escaped}
        self.secrets = sorted(found, key=len, reverse=True)
        # In any case: a library may change a secret's case in its message (python-telegram-
        # bot capitalizes the Bot API's "Bad Request: ..." answers, lowering the rest).
        self._pattern = (
            re.compile("|".join(map(re.escape, self.secrets)), re.IGNORECASE)
            if self.secrets
            else None
        )

    def mask(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.mask(record.getMessage())
            record.args = ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.mask(record.exc_text)
        return True


def secret_values(config: Any) -> list[str]:
    """The values of the environment variables named by every ``*_env`` key of a config."""
    from commsbot.config import as_dict

    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key.endswith("_env") and isinstance(inner, str) and os.environ.get(inner):
                    found.append(os.environ[inner])
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(as_dict(config))
    return found


# One filter for the process: the secrets are known only once the config is read.
_MASK = MaskSecrets()


class ForeignWarningsOnOneLine(logging.Filter):
    """Drops the traceback of another library's warning, keeping its one-line message.

    A library's warning is about something it handled (urllib3 logs "Failed to parse
    headers" with ``exc_info`` and still returns the answer, which commsbot then judges);
    its traceback would only scare the reader of a clean one-line error. commsbot's own
    records, and any library's errors, keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "commsbot" or record.name.startswith("commsbot.")
        if not own and record.levelno < logging.ERROR:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True


def mask_secrets(secrets: Iterable[str]) -> None:
    """Mask these values in every log line from now on."""
    _MASK.add(secrets)


class MaskedStream:
    """A text stream that masks the known secrets in whatever is written to it."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(_MASK.mask(text) if isinstance(text, str) else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # encoding, errors, isatty, flush, fileno...: as the stream underneath. (A binary
        # write through .buffer is not masked: commsbot writes only text.)
        return getattr(self.inner, name)


def mask_streams() -> None:
    """Mask secrets in everything written to stdout and stderr from now on (the secrets
    themselves may become known later: they are looked up at each write)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, MaskedStream):
            setattr(sys, name, MaskedStream(stream))


def setup(level: int, *, json_lines: bool = False) -> None:
    """(Re)configure the root logger: one handler on stderr, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ForeignWarningsOnOneLine())  # before masking, which formats tracebacks
    handler.addFilter(_MASK)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The scheduler's own lines repeat ours ("Running job ..."); its warnings still show.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
