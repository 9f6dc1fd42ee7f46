"""A fake Telegram Bot API server for tests, speaking real HTTP on loopback.

Point python-telegram-bot at it with ``Bot(token, base_url=fake.base_url,
base_file_url=fake.base_file_url)`` (or the same two calls on ``ApplicationBuilder``).
Only the standard library is used: a ``ThreadingHTTPServer`` runs in a background thread.

Behaviour modelled on the real Bot API:

* ``/bot<token>/<method>`` (method name case-insensitive), GET or POST, parameters from the
  query string, a JSON body, a form-encoded body or a multipart body (file uploads).
  PTB sends form bodies whose non-string values are JSON-encoded strings; they are decoded
  per parameter, so a text of ``"123"`` stays a string.
* A wrong token gives 401 ``Unauthorized``; an unknown method gives 404 ``Not Found``.
* ``parse_mode=HTML`` is parsed like TDLib's ``parse_html`` (same tag set, same error texts:
  ``Bad Request: can't parse entities: ...``). As in the real API, a bare ``&`` or an unknown
  ``&name;`` is kept literally rather than rejected. The answer carries the plain text plus
  ``entities``, as Telegram's does. Other parse modes are passed through unparsed.
* Text limits are counted in UTF-16 code units after entity parsing and trimming
  (4096 for text, 1024 for captions).
* ``getUpdates`` long-polls (capped by ``max_poll_timeout``), confirms updates below
  ``offset``, honours ``limit`` and ``allowed_updates``. Like Telegram, ``allowed_updates``
  persists between calls, and the default excludes ``chat_member``, ``message_reaction`` and
  ``message_reaction_count``: updates of a type not allowed are discarded when polled.
  A second concurrent ``getUpdates`` ends the first with 409 ``Conflict``.

The ``sent`` records keep what the client sent (raw HTML in ``text``/``caption``), while
``plain_text`` and ``entities`` hold the parsed form Telegram would store.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import random
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, cast
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "DEFAULT_ALLOWED_UPDATES_EXCLUDED",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "EntityParseError",
    "FakeTelegram",
    "Upload",
    "parse_html",
    "utf16_len",
]

JSONDict = dict[str, Any]

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
DEFAULT_ALLOWED_UPDATES_EXCLUDED: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_CHANNEL_ID_LIMIT: Final = -1_000_000_000_000
_SYNTHETIC_CHANNEL_BASE: Final = -1_001_000_000_000
_RATE_LIMITED_DEFAULT: Final = ("sendMessage", "sendPhoto")

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
_DEFAULT_DESCRIPTIONS: Final[Mapping[int, str]] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --------------------------------------------------------------------------------------------
# HTML parse mode (a port of TDLib's parse_html, which the Bot API server uses)
# --------------------------------------------------------------------------------------------


class EntityParseError(ValueError):
    """The text could not be parsed in the requested parse mode."""


_HTML_TAGS: Final = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
# TDLib's is_space(); "\0" doubles as the end-of-input marker returned by _at().
_SPACES: Final = frozenset(" \t\r\n\v\0")
_NAMED_ENTITIES: Final[Mapping[str, int]] = {"lt": 0x3C, "gt": 0x3E, "amp": 0x26, "quot": 0x22}
_SIMPLE_TAG_TYPES: Final[Mapping[str, str]] = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram uses for offsets."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def _at(text: str, i: int) -> str:
    return text[i] if i < len(text) else "\0"


def _decode_html_entity(text: str, pos: int) -> tuple[int, int] | None:
    """Decode the entity at ``text[pos] == '&'``: (code point, next position) or None."""
    end = pos + 1
    code = 0
    if _at(text, end) == "#":
        end += 1
        if _at(text, end) == "x":
            end += 1
            while _at(text, end) in "0123456789abcdefABCDEF" and _at(text, end) != "\0":
                code = code * 16 + int(text[end], 16)
                end += 1
        else:
            while _at(text, end).isascii() and _at(text, end).isdigit():
                code = code * 10 + int(text[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
    else:
        while _at(text, end).isascii() and _at(text, end).isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(text[pos + 1 : end])
        if named is None:
            return None
        code = named
    if _at(text, end) == ";":
        end += 1
    return code, end


def _checked_link(url: str) -> str | None:
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url) or url.startswith(("tg:", "mailto:")):
        return url
    if "." in url:
        return "http://" + url
    return None


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    out_len: int
    expandable: bool


def parse_html(html: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into (plain text, Bot API MessageEntity dicts).

    Raises EntityParseError with TDLib's wording (without the "Bad Request: can't parse
    entities: " prefix the Bot API adds).
    """
    n = len(html)

    def byte_offset(i: int) -> int:
        return len(html[:i].encode("utf-8", "surrogatepass"))

    out: list[str] = []
    utf16 = 0
    entities: list[JSONDict] = []
    stack: list[_OpenTag] = []
    i = 0
    while i < n:
        ch = html[i]
        if ch == "&":
            decoded = _decode_html_entity(html, i)
            if decoded is not None:
                code, i = decoded
                if 0xD800 <= code <= 0xDFFF:
                    raise EntityParseError(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units"
                    )
                out.append(chr(code))
                utf16 += 2 if code > 0xFFFF else 1
                continue
        if ch != "<":
            out.append(ch)
            utf16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue

        begin = i
        i += 1
        if _at(html, i) != "/":
            while _at(html, i) not in _SPACES and _at(html, i) != ">":
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = html[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(
                    f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}'
                )
            argument = ""
            expandable = False
            while _at(html, i) != ">":
                while i < n and html[i] in _SPACES:
                    i += 1
                if _at(html, i) == ">":
                    break
                attr_begin = i
                while _at(html, i) not in _SPACES and _at(html, i) not in "=>":
                    i += 1
                attr = html[attr_begin:i]
                if not attr:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{byte_offset(begin)}"
                    )
                while i < n and html[i] in _SPACES:
                    i += 1
                if _at(html, i) != "=":
                    if tag == "blockquote" and attr.lower() == "expandable" and i < n:
                        expandable = True
                        continue
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {byte_offset(begin)}'
                    )
                i += 1
                while i < n and html[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}'
                    )
                if html[i] not in "'\"":
                    token_begin = i
                    while _at(html, i).isascii() and (
                        _at(html, i).isalnum() or _at(html, i) in ".-"
                    ):
                        i += 1
                    value = html[token_begin:i].lower()
                    if _at(html, i) not in _SPACES and _at(html, i) != ">":
                        raise EntityParseError(
                            "Unexpected end of name token at byte offset "
                            f"{byte_offset(token_begin)}"
                        )
                else:
                    quote = html[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and html[i] != quote:
                        if html[i] == "&":
                            decoded = _decode_html_entity(html, i)
                            if decoded is not None:
                                chars.append(chr(decoded[0]))
                                i = decoded[1]
                                continue
                        chars.append(html[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise EntityParseError(
                        f"Unclosed start tag at byte offset {byte_offset(begin)}"
                    )
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
                )
            stack.append(_OpenTag(tag, argument, utf16, len(out), expandable))
            i += 1  # the '>'
            continue

        # an end tag
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while _at(html, i) not in _SPACES and _at(html, i) != ">":
            i += 1
        end_tag = html[begin + 2 : i].lower()
        while i < n and html[i] in _SPACES:
            i += 1
        if _at(html, i) != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        opened = stack[-1]
        if end_tag and end_tag != opened.name:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                f'expected "</{opened.name}>", found "</{end_tag}>"'
            )
        if utf16 > opened.utf16_offset:
            _close_entity(opened, utf16, out, entities)
        stack.pop()
        i += 1  # the '>'

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(opened: _OpenTag, utf16: int, out: list[str], entities: list[JSONDict]) -> None:
    offset = opened.utf16_offset
    length = utf16 - offset
    tag = opened.name
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag in _SIMPLE_TAG_TYPES:
        entities.append({"type": _SIMPLE_TAG_TYPES[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": opened.argument,
            }
        )
    elif tag == "a":
        url = opened.argument or "".join(out[opened.out_len :])
        user = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
        if user is not None:
            entities.append(
                {
                    "type": "text_mention",
                    "offset": offset,
                    "length": length,
                    "user": {"id": int(user.group(1)), "is_bot": False, "first_name": "User"},
                }
            )
        else:
            checked = _checked_link(url)
            if checked is not None:
                entities.append(
                    {"type": "text_link", "offset": offset, "length": length, "url": checked}
                )
    elif tag == "pre":
        if last is not None and same_span and last["type"] == "code" and last.get("_language"):
            last["type"] = "pre"
            last["language"] = last.pop("_language")
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        if last is not None and same_span and last["type"] == "pre" and opened.argument:
            last["language"] = opened.argument
        else:
            entity: JSONDict = {"type": "code", "offset": offset, "length": length}
            if opened.argument:
                entity["_language"] = opened.argument
            entities.append(entity)
    elif tag == "blockquote":
        kind = "expandable_blockquote" if opened.expandable else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})
    else:  # pragma: no cover - _HTML_TAGS and this chain agree
        raise AssertionError(tag)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim spaces/newlines like TDLib: fully at the end, at the start up to the first entity."""
    stripped = text.rstrip(" \n")
    end = utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        length = min(entity["offset"] + entity["length"], end) - entity["offset"]
        if length > 0:
            kept.append({**entity, "length": length})
    first_entity = min((e["offset"] for e in kept), default=end)
    lead = len(stripped) - len(stripped.lstrip(" \n"))
    lead = min(lead, first_entity)  # these characters are single UTF-16 units
    if lead:
        stripped = stripped[lead:]
        kept = [{**e, "offset": e["offset"] - lead} for e in kept]
    return stripped, kept


# --------------------------------------------------------------------------------------------
# request plumbing
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class _Failure:
    status: int
    description: str
    parameters: JSONDict | None
    remaining: int


@dataclass
class _Drop:
    share: float
    rng: random.Random
    after_processing: bool


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes | None
    file_path: str


@dataclass
class _Outcome:
    status: int
    body: JSONDict | None = None
    raw: bytes | None = None
    content_type: str = "application/json"

    @property
    def dropped(self) -> bool:
        """Neither a JSON body nor raw bytes: close the connection without answering."""
        return self.body is None and self.raw is None


_DROPPED: Final = _Outcome(0)


Params = dict[str, Any]
Files = dict[str, Upload]
_Handler = Callable[[Params, Files], Any]


def _parse_multipart(content_type: str, body: bytes) -> tuple[Params, Files]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise _bad_request("multipart body without boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    params: Params = {}
    files: Files = {}
    parser = email.parser.BytesHeaderParser(policy=email.policy.HTTP)
    for raw_part in body.split(delimiter)[1:]:
        if raw_part.startswith(b"--"):
            break  # closing delimiter
        part = raw_part.removeprefix(b"\r\n")
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers = parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_filename()
        if filename is not None:
            files[name] = Upload(
                filename=filename,
                content_type=headers.get_content_type(),
                data=data,
            )
        else:
            charset = headers.get_content_charset() or "utf-8"
            params[name] = data.decode(charset, "replace")
    return params, files


def _opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _opt_int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise _bad_request(f"invalid {name} specified") from None
        return int(number)


def _opt_float(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid {name} specified") from None


def _opt_bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _opt_json(params: Params, name: str, what: str | None = None) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _bad_request(f"can't parse {what or name} JSON object") from None
    return value


def _chat_ref(params: Params, name: str = "chat_id") -> int | str:
    value = params.get(name)
    if value is None or value == "":
        raise _bad_request(f"{name} is empty")
    if isinstance(value, bool):
        raise _bad_request("chat not found")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text.startswith("@") and len(text) > 1:
        return text
    raise _bad_request("chat not found")


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return None


# --------------------------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeTelegram) -> None:
        self.fake = fake
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() calls getfqdn(), which can stall on hosts without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the client's
    # delayed ACK holds the second one back ~40 ms, and every request looks slow.
    disable_nagle_algorithm = True
    server_version = "FakeTelegramBotAPI/1.0"
    timeout = 60  # idle keep-alive connections; stop() shuts them down explicitly

    @property
    def fake(self) -> FakeTelegram:
        return cast(_HTTPServer, self.server).fake

    def setup(self) -> None:
        super().setup()
        self.fake._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.fake._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read state, not access logs."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        url = urlsplit(self.path)
        try:
            outcome = self.fake._handle_http(
                self.command, url.path, url.query, self.headers.get("Content-Type", ""), body
            )
        except Exception as exc:  # a bug in the fake: answer 500 rather than hang the client
            outcome = _Outcome(
                500, {"ok": False, "error_code": 500, "description": f"fake server error: {exc!r}"}
            )
        if outcome.dropped:
            self._drop_connection()
            return
        if outcome.raw is not None:
            payload = outcome.raw
        else:
            payload = json.dumps(outcome.body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(outcome.status)
            self.send_header("Content-Type", outcome.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# --------------------------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """A fake Telegram Bot API server; see the module docstring.

    All public state is guarded by one lock; helpers return copies.
    """

    def __init__(
        self,
        token: str = "123:TEST",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_poll_timeout: float = 2.0,
        bot_username: str = "commsbot_test_bot",
        bot_first_name: str = "Commsbot Test",
    ) -> None:
        self.token = token
        self.host = host
        self._requested_port = port
        self.max_poll_timeout = max_poll_timeout

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._active_connections = 0

        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123
        self.bot: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        # observable state
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: list[JSONDict] = []
        self.sent: list[JSONDict] = []
        self.edits: list[JSONDict] = []
        self.callback_answers: list[JSONDict] = []
        self.allowed_updates_seen: list[list[str]] = []
        self.rejected_429 = 0
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}

        # internal state
        self.chats: dict[int, JSONDict] = {}
        self._member_counts: dict[int, int] = {}
        # chat id -> user id -> "creator" | "administrator" | "member" | "left" | ...
        self._member_statuses: dict[int, dict[int, str]] = {}
        self._usernames: dict[str, int] = {}
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._sent_index: dict[tuple[int, int], JSONDict] = {}
        self._updates: collections.deque[JSONDict] = collections.deque()
        self._update_ids = itertools.count(1000)
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._callback_ids = itertools.count(1)
        self._open_callbacks: set[str] = set()
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._synthetic_channels = itertools.count(1)

        # fault injection
        self._failures: dict[str, collections.deque[_Failure]] = collections.defaultdict(
            collections.deque
        )
        self._delays: dict[str, float] = {}
        self._drops: dict[str, _Drop] = {}
        self._rate: float | None = None
        self._rate_methods: frozenset[str] = frozenset(m.lower() for m in _RATE_LIMITED_DEFAULT)
        self._bucket = 0.0
        self._bucket_capacity = 0.0
        self._bucket_stamp = 0.0

        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in (
            ("getMe", self._api_get_me),
            ("getUpdates", self._api_get_updates),
            ("deleteWebhook", self._api_delete_webhook),
            ("sendMessage", self._api_send_message),
            ("sendPhoto", self._api_send_photo),
            ("editMessageText", self._api_edit_message_text),
            ("editMessageReplyMarkup", self._api_edit_message_reply_markup),
            ("answerCallbackQuery", self._api_answer_callback_query),
            ("getChat", self._api_get_chat),
            ("getChatMemberCount", self._api_get_chat_member_count),
            ("getChatMember", self._api_get_chat_member),
            ("getChatAdministrators", self._api_get_chat_administrators),
            ("setMyCommands", self._api_set_my_commands),
            ("getMyCommands", self._api_get_my_commands),
            ("deleteMyCommands", self._api_delete_my_commands),
            ("getFile", self._api_get_file),
            ("close", self._api_true),
            ("logOut", self._api_true),
        ):
            self._methods[name.lower()] = (name, handler)

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        """Bind and serve in a background thread. Returns self."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._stopping.clear()
        server = _HTTPServer((self.host, self._requested_port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeTelegram:{server.server_port}",
            daemon=True,
        )
        self._server = server
        self._thread = thread
        thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close every connection and wait (bounded) for handler threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._stopping.set()
            connections = list(self._connections)
            self._cond.notify_all()
        server.shutdown()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        deadline = time.monotonic() + timeout
        if thread is not None:
            thread.join(timeout)
        with self._cond:
            while self._active_connections:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For PTB's ``base_url``: PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For PTB's ``base_file_url``: PTB appends the token."""
        return f"{self.url}/file/bot"

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)
            self._active_connections += 1
            stopping = self._stopping.is_set()
        if stopping:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)
            self._active_connections -= 1
            self._cond.notify_all()

    # ---- fault injection ------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        *,
        parameters: JSONDict | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error.

        429 answers carry ``parameters.retry_after`` (default 1). Default descriptions follow
        Telegram's (403 is "Forbidden: bot was blocked by the user").
        """
        params = dict(parameters or {})
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
        if retry_after is not None:
            params["retry_after"] = retry_after
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        with self._lock:
            self._failures[method.lower()].append(
                _Failure(status, description, params or None, count)
            )

    def set_delay(self, method: str, seconds: float | None) -> None:
        """Delay every answer to ``method`` (before it is processed); None/0 removes it."""
        with self._lock:
            if seconds:
                self._delays[method.lower()] = seconds
            else:
                self._delays.pop(method.lower(), None)

    def set_rate_limit(
        self,
        per_second: float | None,
        *,
        burst: float | None = None,
        methods: Iterable[str] = _RATE_LIMITED_DEFAULT,
    ) -> None:
        """Global token bucket over ``methods``; beyond it answer 429 retry_after=1.

        ``burst`` defaults to ``max(1, per_second)``. None disables the limit.
        """
        with self._lock:
            self._rate = per_second
            self._rate_methods = frozenset(m.lower() for m in methods)
            capacity = burst if burst is not None else max(1.0, per_second or 0.0)
            self._bucket_capacity = capacity
            self._bucket = capacity
            self._bucket_stamp = time.monotonic()

    def drop_share(
        self, method: str, share: float, seed: int = 0, *, after_processing: bool = False
    ) -> None:
        """Close the connection without answering for ``share`` (0..1) of calls to ``method``.

        Seeded, so a test sees the same pattern every run. With ``after_processing`` the call
        takes effect (e.g. the message is recorded) and only the answer is lost.
        """
        with self._lock:
            if share <= 0:
                self._drops.pop(method.lower(), None)
            else:
                self._drops[method.lower()] = _Drop(share, random.Random(seed), after_processing)

    def clear_faults(self) -> None:
        """Remove queued failures, delays, drops and the rate limit."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()
            self._drops.clear()
            self._rate = None

    # ---- chats and users ------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int | str,
        *,
        type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        member_count: int | None = None,
    ) -> JSONDict:
        """Register or update a chat; returns its Chat dict. ``"@name"`` makes a channel."""
        with self._lock:
            chat = self._chat(chat_id)
            if type is not None:
                chat["type"] = type
                if type == "private":
                    chat.pop("title", None)
                    chat.setdefault("first_name", first_name or f"User{chat['id']}")
                else:
                    chat.pop("first_name", None)
                    chat.setdefault("title", title or f"Chat {chat['id']}")
            if title is not None:
                chat["title"] = title
            if first_name is not None:
                chat["first_name"] = first_name
            if username is not None:
                old = chat.get("username")
                if old:
                    self._usernames.pop(old.lower(), None)
                chat["username"] = username.lstrip("@")
                self._usernames[chat["username"].lower()] = chat["id"]
            if member_count is not None:
                self._member_counts[chat["id"]] = member_count
            return copy.deepcopy(chat)

    def set_member(self, chat_id: int | str, user_id: int, status: str) -> None:
        """A user's status in a group: "creator", "administrator", "member", "left", ...
        (a user never set is a "member", as anyone who writes in the group is)."""
        with self._lock:
            chat = self._chat(chat_id)
            self._member_statuses.setdefault(chat["id"], {})[user_id] = status

    def chat_id_for(self, chat_ref: int | str) -> int | None:
        """The numeric id of a chat given as id or ``"@username"`` (None if unknown)."""
        with self._lock:
            if isinstance(chat_ref, int):
                return chat_ref
            return self._usernames.get(chat_ref.lstrip("@").lower())

    def _chat(self, chat_ref: int | str) -> JSONDict:
        """The chat dict for an id or @username, created on first use (lock held)."""
        if isinstance(chat_ref, str):
            name = chat_ref.lstrip("@")
            known = self._usernames.get(name.lower())
            if known is not None:
                return self.chats[known]
            chat_id = _SYNTHETIC_CHANNEL_BASE - next(self._synthetic_channels)
            chat: JSONDict = {"id": chat_id, "type": "channel", "title": name, "username": name}
            self.chats[chat_id] = chat
            self._usernames[name.lower()] = chat_id
            return chat
        existing = self.chats.get(chat_ref)
        if existing is not None:
            return existing
        if chat_ref > 0:
            chat = {"id": chat_ref, "type": "private", "first_name": f"User{chat_ref}"}
        elif chat_ref < _CHANNEL_ID_LIMIT:
            chat = {"id": chat_ref, "type": "channel", "title": f"Channel {chat_ref}"}
        else:
            chat = {"id": chat_ref, "type": "group", "title": f"Group {chat_ref}"}
        self.chats[chat_ref] = chat
        return chat

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    # ---- playing users: pushing updates -------------------------------------------------------

    def _push(self, kind: str, payload: JSONDict) -> JSONDict:
        with self._cond:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    @staticmethod
    def _user(
        user_id: int,
        username: str | None,
        first_name: str | None,
        language_code: str | None = None,
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name or "Test"}
        if username:
            user["username"] = username.lstrip("@")
        if language_code:  # the IETF tag of the user's app language, when Telegram has it
            user["language_code"] = language_code
        return user

    def push_message(
        self,
        text: str,
        user_id: int = 1001,
        chat_id: int | None = None,
        username: str | None = "alice",
        *,
        first_name: str = "Alice",
        language_code: str | None = None,
    ) -> JSONDict:
        """Queue a ``message`` update from a user (a private chat unless ``chat_id`` says else).

        A text starting with ``/`` gets a ``bot_command`` entity at offset 0, as Telegram adds.
        """
        with self._cond:
            user = self._user(user_id, username, first_name, language_code)
            chat = self._chat(user_id if chat_id is None else chat_id)
            if chat["type"] == "private":
                chat["first_name"] = first_name
                if username:
                    chat["username"] = username.lstrip("@")
            message: JSONDict = {
                "message_id": self._new_message_id(chat["id"]),
                "date": int(time.time()),
                "chat": copy.deepcopy(chat),
                "from": user,
                "text": text,
            }
            command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
            if command is not None:
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
                ]
            self._messages[(chat["id"], message["message_id"])] = message
            return self._push("message", copy.deepcopy(message))

    def push_channel_post(self, text: str, chat_id: int | str = "@commsbot_test") -> JSONDict:
        """Queue a ``channel_post`` update (a post made in the channel by someone else)."""
        with self._cond:
            chat = self._chat(chat_id)
            message: JSONDict = {
                "message_id": self._new_message_id(chat["id"]),
                "date": int(time.time()),
                "chat": copy.deepcopy(chat),
                "sender_chat": copy.deepcopy(chat),
                "text": text,
            }
            self._messages[(chat["id"], message["message_id"])] = message
            return self._push("channel_post", copy.deepcopy(message))

    def push_callback_query(
        self,
        data: str,
        user_id: int = 1001,
        message_id: int | None = None,
        chat_id: int | str | None = None,
        *,
        username: str | None = "alice",
        first_name: str = "Alice",
    ) -> JSONDict:
        """Queue a ``callback_query`` update: a user pressed an inline button with ``data``.

        The message is the stored one when known (by default the last message sent to the
        chat, which defaults to the user's private chat).
        """
        with self._cond:
            chat = self._chat(user_id if chat_id is None else chat_id)
            if message_id is None:
                ids = [mid for (cid, mid) in self._messages if cid == chat["id"]]
                message_id = max(ids) if ids else 1
            message = self._messages.get((chat["id"], message_id))
            if message is None:
                message = {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": copy.deepcopy(chat),
                }
            query_id = str(next(self._callback_ids))
            self._open_callbacks.add(query_id)
            query: JSONDict = {
                "id": query_id,
                "from": self._user(user_id, username, first_name),
                "message": copy.deepcopy(message),
                "chat_instance": f"ci{chat['id']}",
                "data": data,
            }
            return self._push("callback_query", query)

    def push_reaction_count(
        self, chat_id: int | str, message_id: int, reactions: Mapping[str, int]
    ) -> JSONDict:
        """Queue a ``message_reaction_count`` update (anonymous reaction totals).

        Keys are emoji (``"👍"``), ``"custom:<id>"`` for custom emoji, or ``"paid"``.
        Only delivered to a poll whose ``allowed_updates`` includes the type.
        """
        items: list[JSONDict] = []
        for key, total in reactions.items():
            if key == "paid":
                kind: JSONDict = {"type": "paid"}
            elif key.startswith("custom:"):
                kind = {"type": "custom_emoji", "custom_emoji_id": key.removeprefix("custom:")}
            else:
                kind = {"type": "emoji", "emoji": key}
            items.append({"type": kind, "total_count": total})
        with self._cond:
            chat = copy.deepcopy(self._chat(chat_id))
        return self._push(
            "message_reaction_count",
            {
                "chat": chat,
                "message_id": message_id,
                "date": int(time.time()),
                "reactions": items,
            },
        )

    def push_update(self, kind: str, payload: JSONDict) -> JSONDict:
        """Queue an arbitrary update ``{"update_id": ..., kind: payload}``."""
        return self._push(kind, copy.deepcopy(payload))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by an ``offset``."""
        with self._lock:
            return copy.deepcopy(list(self._updates))

    # ---- reading what the bot did ---------------------------------------------------------

    def messages_to(self, chat_id: int | str) -> list[JSONDict]:
        """Copies of the ``sent`` records for a chat (by id or ``"@username"``)."""
        with self._lock:
            resolved = self.chat_id_for(chat_id)
            return [copy.deepcopy(m) for m in self.sent if m["chat_id"] == resolved]

    def all_sent(self) -> list[JSONDict]:
        with self._lock:
            return copy.deepcopy(self.sent)

    def wait_for_messages(
        self, chat_id: int | str, n: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Block until at least ``n`` messages were sent to the chat; AssertionError if not."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                messages = self.messages_to(chat_id)
                if len(messages) >= n:
                    return messages
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    summary = [
                        (m["method"], m["chat_id"], m["text"] or m["caption"]) for m in self.sent
                    ]
                    raise AssertionError(
                        f"expected {n} message(s) to {chat_id!r} within {timeout}s, got "
                        f"{len(messages)}: {[m['text'] or m['caption'] for m in messages]!r}; "
                        f"everything sent: {summary!r}; calls: {dict(self.calls)!r}"
                    )
                self._cond.wait(remaining)

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> int:
        """Block until ``method`` was called at least ``n`` times; AssertionError if not."""
        deadline = time.monotonic() + timeout
        name = self._methods.get(method.lower(), (method, None))[0]
        with self._cond:
            while self.calls[name] < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {n} call(s) of {name} within {timeout}s, got "
                        f"{self.calls[name]}; calls: {dict(self.calls)!r}"
                    )
                self._cond.wait(remaining)
            return self.calls[name]

    # ---- request handling -----------------------------------------------------------------

    def _handle_http(
        self, verb: str, path: str, query: str, content_type: str, body: bytes
    ) -> _Outcome:
        path = unquote(path)  # PTB percent-encodes download paths (the token's ':')
        if path.startswith("/file/bot"):
            return self._serve_file(path)
        match = re.fullmatch(r"/bot([^/]*)/([^/]*)/?", path)
        if match is None or not match.group(2):
            return _Outcome(404, _ApiError(404, "Not Found").payload())
        token, method = match.groups()
        try:
            params, files = self._parse_params(query, content_type, body)
        except _ApiError as exc:
            return _Outcome(exc.status, exc.payload())
        return self._process(token, method, params, files)

    @staticmethod
    def _parse_params(query: str, content_type: str, body: bytes) -> tuple[Params, Files]:
        params: Params = dict(parse_qsl(query, keep_blank_values=True))
        files: Files = {}
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind == "application/json" and body.strip():
            try:
                decoded = json.loads(body)
            except ValueError:
                raise _bad_request("can't parse JSON request body") from None
            if not isinstance(decoded, dict):
                raise _bad_request("JSON request body must be an object")
            params.update(decoded)
        elif kind == "multipart/form-data":
            form, files = _parse_multipart(content_type, body)
            params.update(form)
        elif body:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return params, files

    def _process(self, token: str, method: str, params: Params, files: Files) -> _Outcome:
        key = method.lower()
        spec = self._methods.get(key)
        name = spec[0] if spec is not None else method
        with self._cond:
            self.calls[name] += 1
            self.requests.append(
                {
                    "method": name,
                    "params": copy.deepcopy(params),
                    "files": {k: v.filename for k, v in files.items()},
                    "time": time.monotonic(),
                }
            )
            self._cond.notify_all()
        if token != self.token:
            return _Outcome(401, _ApiError(401, "Unauthorized").payload())
        if spec is None:
            return _Outcome(404, _ApiError(404, "Not Found").payload())
        with self._lock:
            drop = self._drops.get(key)
            dropped = drop is not None and drop.rng.random() < drop.share
            delay = self._delays.get(key, 0.0)
        if dropped and drop is not None and not drop.after_processing:
            return _DROPPED
        if delay:
            self._stopping.wait(delay)
        try:
            self._check_injected(key)
            result = spec[1](params, files)
        except _ApiError as exc:
            outcome = _Outcome(exc.status, exc.payload())
        else:
            outcome = _Outcome(200, {"ok": True, "result": result})
        return _DROPPED if dropped else outcome

    def _check_injected(self, key: str) -> None:
        with self._lock:
            queue = self._failures.get(key)
            if queue:
                failure = queue[0]
                failure.remaining -= 1
                if failure.remaining <= 0:
                    queue.popleft()
                raise _ApiError(failure.status, failure.description, failure.parameters)
            if self._rate is not None and key in self._rate_methods:
                now = time.monotonic()
                self._bucket = min(
                    self._bucket_capacity, self._bucket + (now - self._bucket_stamp) * self._rate
                )
                self._bucket_stamp = now
                if self._bucket >= 1.0:
                    self._bucket -= 1.0
                else:
                    self.rejected_429 += 1
                    raise _ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})

    def _serve_file(self, path: str) -> _Outcome:
        match = re.fullmatch(r"/file/bot([^/]*)/(.+)", path)
        if match is None:
            return _Outcome(404, _ApiError(404, "Not Found").payload())
        token, file_path = match.groups()
        with self._cond:
            self.calls["<file>"] += 1
            self._cond.notify_all()
            stored = self._file_paths.get(file_path)
        if token != self.token:
            return _Outcome(401, _ApiError(401, "Unauthorized").payload())
        if stored is None or stored.data is None:
            return _Outcome(404, _ApiError(404, "Not Found").payload())
        return _Outcome(200, raw=stored.data, content_type="application/octet-stream")

    # ---- text validation ------------------------------------------------------------------

    @staticmethod
    def _formatted(
        text: str, parse_mode: str | None, entities: Any, *, caption: bool
    ) -> tuple[str, list[JSONDict]]:
        if parse_mode and parse_mode.lower() == "html":
            try:
                plain, parsed = parse_html(text)
            except EntityParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from None
        elif parse_mode and parse_mode.lower() not in {"markdown", "markdownv2"}:
            raise _bad_request(f"unsupported parse_mode {parse_mode!r}")
        else:
            plain = text
            parsed = [dict(e) for e in entities] if isinstance(entities, list) else []
        plain, parsed = _trim(plain, parsed)
        limit = MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH
        if utf16_len(plain) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        return plain, parsed

    # ---- Bot API methods ------------------------------------------------------------------

    def _api_true(self, params: Params, files: Files) -> Any:
        return True

    def _api_get_me(self, params: Params, files: Files) -> Any:
        with self._lock:
            return copy.deepcopy(self.bot)

    def _api_delete_webhook(self, params: Params, files: Files) -> Any:
        if _opt_bool(params, "drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    def _api_get_updates(self, params: Params, files: Files) -> Any:
        offset = _opt_int(params, "offset")
        limit = max(1, min(100, _opt_int(params, "limit") or 100))
        timeout = max(0.0, min(_opt_float(params, "timeout") or 0.0, self.max_poll_timeout))
        allowed = _opt_json(params, "allowed_updates")
        with self._cond:
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if allowed is not None:
                if not isinstance(allowed, list):
                    raise _bad_request("can't parse allowed_updates JSON array")
                allowed = [str(a) for a in allowed]
                self.allowed_updates_seen.append(list(allowed))
                self._allowed_updates = allowed or None
            if offset:
                if offset < 0:
                    while len(self._updates) > -offset:
                        self._updates.popleft()
                else:
                    while self._updates and self._updates[0]["update_id"] < offset:
                        self._updates.popleft()
            deadline = time.monotonic() + timeout
            while True:
                if generation != self._poll_generation:
                    raise _ApiError(409, _DEFAULT_DESCRIPTIONS[409])
                ready = self._deliverable(limit)
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping.is_set():
                    return ready
                self._cond.wait(remaining)

    def _deliverable(self, limit: int) -> list[JSONDict]:
        """Pending updates this bot may receive; drops those ``allowed_updates`` excludes."""
        kept: collections.deque[JSONDict] = collections.deque()
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            if self._allowed_updates is None:
                allowed = kind not in DEFAULT_ALLOWED_UPDATES_EXCLUDED
            else:
                allowed = kind in self._allowed_updates
            if allowed:
                kept.append(update)
        self._updates = kept
        return copy.deepcopy(list(itertools.islice(kept, limit)))

    def _bot_message(self, chat: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self._new_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": copy.deepcopy(chat),
        }
        if chat["type"] == "channel":
            message["sender_chat"] = copy.deepcopy(chat)
        else:
            message["from"] = self._bot_user()
        return message

    def _bot_user(self) -> JSONDict:
        return {k: self.bot[k] for k in ("id", "is_bot", "first_name", "username")}

    def _attach_common(self, message: JSONDict, params: Params, reply_markup: Any) -> None:
        if isinstance(reply_markup, dict) and "inline_keyboard" in reply_markup:
            message["reply_markup"] = reply_markup
        reply = _opt_json(params, "reply_parameters")
        reply_to = _opt_int(params, "reply_to_message_id")
        if isinstance(reply, dict):
            reply_to = _opt_int(reply, "message_id")
        if reply_to is not None:
            original = self._messages.get((message["chat"]["id"], reply_to))
            if original is not None:
                message["reply_to_message"] = {
                    k: v for k, v in original.items() if k != "reply_to_message"
                }
            elif not (isinstance(reply, dict) and _opt_bool(reply, "allow_sending_without_reply")):
                raise _bad_request("message to be replied not found")

    def _record(
        self,
        method: str,
        message: JSONDict,
        params: Params,
        *,
        text: str | None,
        caption: str | None,
        reply_markup: Any,
        photo: Upload | None = None,
        photo_ref: str | None = None,
    ) -> None:
        record: JSONDict = {
            "method": method,
            "chat_id": message["chat"]["id"],
            "chat_ref": params.get("chat_id"),
            "message_id": message["message_id"],
            "date": message["date"],
            "text": text,
            "caption": caption,
            "parse_mode": _opt_str(params, "parse_mode"),
            "plain_text": message.get("text", message.get("caption")),
            "entities": copy.deepcopy(message.get("entities", message.get("caption_entities", []))),
            "reply_markup": copy.deepcopy(reply_markup),
            "photo": photo is not None or photo_ref is not None,
            "photo_data": photo.data if photo is not None else None,
            "photo_ref": photo_ref,
            "disable_notification": _opt_bool(params, "disable_notification"),
            "edited": 0,
            "params": {k: v for k, v in params.items()},
        }
        self._messages[(record["chat_id"], record["message_id"])] = message
        self._sent_index[(record["chat_id"], record["message_id"])] = record
        self.sent.append(record)
        self._cond.notify_all()

    def _api_send_message(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        text = _opt_str(params, "text") or ""
        parse_mode = _opt_str(params, "parse_mode")
        reply_markup = _opt_json(params, "reply_markup", "reply keyboard markup")
        plain, entities = self._formatted(
            text, parse_mode, _opt_json(params, "entities"), caption=False
        )
        if not plain:
            raise _bad_request("message text is empty")
        with self._cond:
            chat = self._chat(chat_ref)
            message = self._bot_message(chat)
            message["text"] = plain
            if entities:
                message["entities"] = entities
            self._attach_common(message, params, reply_markup)
            self._record(
                "sendMessage", message, params, text=text, caption=None, reply_markup=reply_markup
            )
            return copy.deepcopy(message)

    def _api_send_photo(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        caption = _opt_str(params, "caption")
        parse_mode = _opt_str(params, "parse_mode")
        reply_markup = _opt_json(params, "reply_markup", "reply keyboard markup")
        upload = files.get("photo")
        photo_ref = _opt_str(params, "photo")
        if upload is None and photo_ref and photo_ref.startswith("attach://"):
            upload = files.get(photo_ref.removeprefix("attach://"))
            photo_ref = None
        if upload is None and not photo_ref:
            raise _bad_request("there is no photo in the request")
        if upload is not None and not upload.data:
            raise _bad_request("file must be non-empty")
        plain: str = ""
        entities: list[JSONDict] = []
        if caption:
            plain, entities = self._formatted(
                caption, parse_mode, _opt_json(params, "caption_entities"), caption=True
            )
        with self._cond:
            sizes = self._photo_sizes(upload, photo_ref)
            chat = self._chat(chat_ref)
            message = self._bot_message(chat)
            message["photo"] = sizes
            if plain:
                message["caption"] = plain
            if entities:
                message["caption_entities"] = entities
            self._attach_common(message, params, reply_markup)
            self._record(
                "sendPhoto",
                message,
                params,
                text=None,
                caption=caption,
                reply_markup=reply_markup,
                photo=upload,
                photo_ref=None if upload is not None else photo_ref,
            )
            return copy.deepcopy(message)

    def _photo_sizes(self, upload: Upload | None, photo_ref: str | None) -> list[JSONDict]:
        if upload is None and photo_ref in self._files:
            stored = self._files[photo_ref]
            data = stored.data
        else:
            data = upload.data if upload is not None else None
            stored = self._store_file(data, "photos", ".jpg")
        width, height = _png_size(data or b"") or (800, 600)
        thumb = self._store_file(None, "photos", ".jpg")
        scale = min(1.0, 90 / max(width, height, 1))
        return [
            {
                "file_id": thumb.file_id,
                "file_unique_id": thumb.file_unique_id,
                "width": max(1, int(width * scale)),
                "height": max(1, int(height * scale)),
                "file_size": 1024,
            },
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "width": width,
                "height": height,
                "file_size": len(data) if data is not None else 4096,
            },
        ]

    def _store_file(self, data: bytes | None, folder: str, suffix: str) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"AgACAgFake{number:08d}",
            file_unique_id=f"AQADFake{number:06d}",
            data=data,
            file_path=f"{folder}/file_{number}{suffix}",
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _api_get_file(self, params: Params, files: Files) -> Any:
        file_id = _opt_str(params, "file_id") or ""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None:
                raise _bad_request("invalid file_id")
            result: JSONDict = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_path": stored.file_path,
            }
            if stored.data is not None:
                result["file_size"] = len(stored.data)
            return result

    def _editable(self, params: Params) -> tuple[JSONDict | None, JSONDict | None]:
        """(stored message, sent record) for chat_id+message_id; (None, None) for inline."""
        if params.get("inline_message_id"):
            return None, None
        chat_ref = _chat_ref(params)
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        chat_id = self.chat_id_for(chat_ref)
        key = (chat_id if chat_id is not None else 0, message_id)
        message = self._messages.get(key)
        if message is None:
            raise _bad_request("message to edit not found")
        record = self._sent_index.get(key)
        if record is None:
            raise _bad_request("message can't be edited")
        return message, record

    def _api_edit_message_text(self, params: Params, files: Files) -> Any:
        text = _opt_str(params, "text") or ""
        parse_mode = _opt_str(params, "parse_mode")
        reply_markup = _opt_json(params, "reply_markup", "reply keyboard markup")
        plain, entities = self._formatted(
            text, parse_mode, _opt_json(params, "entities"), caption=False
        )
        if not plain:
            raise _bad_request("message text is empty")
        with self._cond:
            message, record = self._editable(params)
            new_markup = reply_markup if isinstance(reply_markup, dict) else None
            self.edits.append(
                {
                    "method": "editMessageText",
                    "chat_id": None if record is None else record["chat_id"],
                    "message_id": None if record is None else record["message_id"],
                    "inline_message_id": _opt_str(params, "inline_message_id"),
                    "text": text,
                    "parse_mode": parse_mode,
                    "reply_markup": copy.deepcopy(reply_markup),
                }
            )
            if message is None or record is None:
                self._cond.notify_all()
                return True
            if "text" not in message:
                self.edits.pop()
                raise _bad_request("there is no text in the message to edit")
            if (
                message["text"] == plain
                and message.get("entities", []) == entities
                and message.get("reply_markup") == new_markup
            ):
                self.edits.pop()
                raise _ApiError(400, _NOT_MODIFIED)
            message["text"] = plain
            if entities:
                message["entities"] = entities
            else:
                message.pop("entities", None)
            self._set_markup(message, new_markup)
            message["edit_date"] = int(time.time())
            record.update(
                text=text,
                parse_mode=parse_mode,
                plain_text=plain,
                entities=copy.deepcopy(entities),
                reply_markup=copy.deepcopy(reply_markup),
                edited=record["edited"] + 1,
            )
            self._cond.notify_all()
            return copy.deepcopy(message)

    def _api_edit_message_reply_markup(self, params: Params, files: Files) -> Any:
        reply_markup = _opt_json(params, "reply_markup", "reply keyboard markup")
        with self._cond:
            message, record = self._editable(params)
            new_markup = reply_markup if isinstance(reply_markup, dict) else None
            if message is not None and message.get("reply_markup") == new_markup:
                raise _ApiError(400, _NOT_MODIFIED)
            self.edits.append(
                {
                    "method": "editMessageReplyMarkup",
                    "chat_id": None if record is None else record["chat_id"],
                    "message_id": None if record is None else record["message_id"],
                    "inline_message_id": _opt_str(params, "inline_message_id"),
                    "text": None,
                    "parse_mode": None,
                    "reply_markup": copy.deepcopy(reply_markup),
                }
            )
            self._cond.notify_all()
            if message is None or record is None:
                return True
            self._set_markup(message, new_markup)
            message["edit_date"] = int(time.time())
            record.update(reply_markup=copy.deepcopy(reply_markup), edited=record["edited"] + 1)
            return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JSONDict, markup: JSONDict | None) -> None:
        if markup is not None and "inline_keyboard" in markup and markup["inline_keyboard"]:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _api_answer_callback_query(self, params: Params, files: Files) -> Any:
        query_id = _opt_str(params, "callback_query_id") or ""
        with self._cond:
            if query_id not in self._open_callbacks:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._open_callbacks.discard(query_id)
            self.callback_answers.append(
                {
                    "callback_query_id": query_id,
                    "text": _opt_str(params, "text"),
                    "show_alert": _opt_bool(params, "show_alert"),
                    "url": _opt_str(params, "url"),
                    "cache_time": _opt_int(params, "cache_time"),
                }
            )
            self._cond.notify_all()
            return True

    def _api_get_chat(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        with self._lock:
            info = copy.deepcopy(self._chat(chat_ref))
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        return info

    def _api_get_chat_member_count(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        with self._lock:
            chat = self._chat(chat_ref)
            default = 2 if chat["type"] == "private" else 1
            return self._member_counts.get(chat["id"], default)

    def _chat_member(self, chat_id: int, user_id: int, status: str) -> JSONDict:
        """A ChatMember as the Bot API gives it, with the fields its status requires."""
        member: JSONDict = {"status": status, "user": self._user(user_id, None, f"User{user_id}")}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member |= {"can_be_edited": False, "is_anonymous": False}
            member |= dict.fromkeys(
                (
                    "can_manage_chat",
                    "can_delete_messages",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                ),
                True,
            )
        elif status == "restricted":
            member |= {"until_date": 0, "is_member": True}
            member |= dict.fromkeys(
                (
                    "can_send_messages",
                    "can_send_audios",
                    "can_send_documents",
                    "can_send_photos",
                    "can_send_videos",
                    "can_send_video_notes",
                    "can_send_voice_notes",
                    "can_send_polls",
                    "can_send_other_messages",
                    "can_add_web_page_previews",
                    "can_change_info",
                    "can_invite_users",
                    "can_pin_messages",
                    "can_manage_topics",
                ),
                False,
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _api_get_chat_member(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        user_id = _opt_int(params, "user_id")
        if user_id is None:
            raise _bad_request("user not found")
        with self._lock:
            chat = self._chat(chat_ref)
            if chat["type"] == "private":
                status = "member" if user_id == chat["id"] else "left"
            else:
                status = self._member_statuses.get(chat["id"], {}).get(user_id, "member")
            return self._chat_member(chat["id"], user_id, status)

    def _api_get_chat_administrators(self, params: Params, files: Files) -> Any:
        chat_ref = _chat_ref(params)
        with self._lock:
            chat = self._chat(chat_ref)
            if chat["type"] == "private":
                raise _bad_request("there are no administrators in the private chat")
            statuses = self._member_statuses.get(chat["id"], {})
            return [
                self._chat_member(chat["id"], user, status)
                for user, status in statuses.items()
                if status in ("creator", "administrator")
            ]

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        scope = _opt_json(params, "scope")
        scope_key = json.dumps(scope, sort_keys=True) if scope else '{"type": "default"}'
        return scope_key, _opt_str(params, "language_code") or ""

    def _api_set_my_commands(self, params: Params, files: Files) -> Any:
        commands = _opt_json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON array")
        cleaned: list[JSONDict] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        with self._lock:
            self.commands[self._commands_key(params)] = cleaned
        return True

    def _api_get_my_commands(self, params: Params, files: Files) -> Any:
        with self._lock:
            return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _api_delete_my_commands(self, params: Params, files: Files) -> Any:
        with self._lock:
            self.commands.pop(self._commands_key(params), None)
        return True
