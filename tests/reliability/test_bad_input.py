"""Bad input at every entry point: a clear one-line error, no traceback, nothing lost.

One table of inputs (config files, command-line arguments, import files, templates) runs
through the real CLI (click's CliRunner, and a few real processes); each must end with the
expected exit code and one ``Error:`` line naming the file, key, item or argument, print
no traceback, and leave every table of the store exactly as it was. Feeds are served
broken over loopback HTTP; bot commands get arbitrary text from hypothesis.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commsbot.bot.replies import COMMANDS, Replies
from commsbot.cli import cli
from commsbot.config import load_config
from commsbot.store import Store
from commsbot.text import is_valid_telegram_html
from tests.support.base import NOW
from tests.support.feeds import FeedServer, item, rss
from tests.support.reliability import FORM, report

GOOD = """
[store]
path = "{dir}/commsbot.db"

[service]
{service}

[channels.outbox]
enabled = true
path = "{dir}/outbox"
"""
UNSET = "COMMSBOT_RELIABILITY_UNSET"
HUGE = "9" * 25
PRACTICE = "--title X --city plzen --theme brokerage --summary S --url https://example.org/x"


@dataclass(frozen=True)
class Case:
    """One bad input: the command, what it must say (``{dir}``/``{config}`` filled in)."""

    name: str
    args: tuple[str | bytes, ...]
    code: int
    message: str
    config: str | None = None  # extra TOML for the config, or a whole config with "[store]"
    files: dict[str, bytes | str] = field(default_factory=dict)


def case(
    name: str, args: str | tuple[str | bytes, ...], code: int, message: str, **extra: Any
) -> Case:
    parts = tuple(args.split()) if isinstance(args, str) else args
    return Case(name, parts, code, message, **extra)


LATIN1_CSV = "title,city,theme,summary,url\nCafé,plzen,brokerage,s,https://a.b/c\n".encode(
    "latin-1"
)
GOOD_ROW = "Fine,plzen,brokerage,s,https://example.org/fine"
THREE_ROWS = (
    f"title,city,theme,summary,url\n{GOOD_ROW}\nBad,plzen,gardening,s,https://a.b/c\n{GOOD_ROW}2\n"
)
NOT_SQLITE = {"garbage.db": b"not a database " * 100}


def damaged_store() -> bytes:
    """A store whose schema bytes are damaged: a table's name in sqlite_master is no longer
    UTF-8, which Python's sqlite3 meets as a UnicodeDecodeError on the first statement."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.db"
        with Store(path) as store:
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        data = bytearray(path.read_bytes())
    at = data.index(b"tablemigrationsmigrations") + len(b"table")
    data[at : at + 2] = b"\xff\xfe"
    return bytes(data)


DAMAGED = {"damaged.db": damaged_store()}
DAMAGED_STORE = '[store]\npath = "{dir}/damaged.db"'
RESTORE_HINT = "damaged: its schema is not UTF-8 text; if it is the store, put a backup in its place: commsbot restore BACKUP"
LONG_FIELD = "x" * 131_073
TEMPLATES = '[service]\ntemplates = "{dir}/templates"'
MASTODON_UNSET = f'[channels.mastodon]\nenabled = true\napi_base_url = "http://127.0.0.1:9"\naccess_token_env = "{UNSET}"'
TELEGRAM_UNSET = f'[channels.telegram]\nenabled = true\nchat_id = "@x"\nbot_token_env = "{UNSET}"'
EMAIL_NO_WAY_OUT = f'[channels.email]\nenabled = true\nsmtp_host = "127.0.0.1"\npassword_env = "{UNSET}"\nfrom = "news@example.org"'
ARABIC_TEN = "\u0661\u0660:\u0660\u0660"  # 10:00 in Arabic-Indic digits
EMAIL_TOTAL_ZERO = '[channels.email]\nenabled = true\nsmtp_host = "127.0.0.1"\nfrom = "news@example.org"\nunsubscribe_url = "https://example.org/u?t={{token}}"\ntotal_timeout = 0'

# One bad input a line: name, command, exit code, what the one error line must say.
# fmt: off
CONFIG_CASES = [
    case("config wrong type", "status", 1, "{config}: service.stop_grace_seconds: must be an integer, not a string", config='[service]\nstop_grace_seconds = "ten"'),
    case("config unknown key", "status", 1, "{config}: service.bogus: unknown key (known:", config="[service]\nbogus = 1"),
    case("config unknown section", "queue list", 1, "{config}: unknown section [bogus]", config="[bogus]\nx = 1"),
    case("config unknown channel", "status", 1, "{config}: unknown channel [channels.myspace]", config="[channels.myspace]\nenabled = true"),
    case("config bad TOML", "status", 1, "{config}: invalid TOML: ", config="oops = [1, 2"),
    case("config bad time zone", "status", 1, "{config}: service.timezone: unknown time zone 'Mars/Olympus'", config='[service]\ntimezone = "Mars/Olympus"'),
    case("config bad slot", "status", 1, "{config}: channels.mastodon.slots[0]: 'Funday 25:00'", config='[channels.mastodon]\napi_base_url = "https://m.example"\nslots = ["Funday 25:00"]'),
    case("config env key not a name", "status", 1, "{config}: channels.mastodon.access_token_env: must name an environment variable, not 'my token'", config='[channels.mastodon]\naccess_token_env = "my token"'),
    case("config bad choice", "status", 1, "{config}: approval.default: must be one of auto | approve, not 'maybe'", config='[approval]\ndefault = "maybe"'),
    case("config zero attempts", "status", 1, "{config}: posting.max_attempts: must be 1 or more", config="[posting]\nmax_attempts = 0"),
    case("config backoff cap", "status", 1, "{config}: posting.retry_backoff_max_seconds: must not be less than retry_backoff_seconds", config="[posting]\nretry_backoff_max_seconds = 10"),
    case("config feeds not an array", "status", 1, "{config}: feeds: must be an array of tables", config='[feeds]\nurl = "https://a.example/feed"'),
    case("config feed url", "status", 1, "{config}: feeds[0].url: 'notaurl' is not an http(s) URL", config='[[feeds]]\nurl = "notaurl"'),
    case("config mastodon url", "status", 1, "{config}: channels.mastodon.api_base_url: 'mastodon.social' is not an http(s) address", config='[channels.mastodon]\napi_base_url = "mastodon.social"'),
    case("config list for a path", "status", 1, "{config}: store.path: must be a path string, not a list", config='[store]\npath = ["a.db"]'),
    case("config digest items", "status", 1, "{config}: digest.max_items: must be at least 1, not 0", config="[digest]\nmax_items = 0"),
    # Names that used to pass loading and crash a job later (#13).
    case("config content type typo", "run --once", 2, "{config}: posting.content_types[0]: unknown content type 'practise'; did you mean 'practice'? (known: practice, event, newsletter, news)", config='[posting]\ncontent_types = ["practise"]'),
    case("config feed city typo", "run --once", 2, "{config}: feeds[0].city: unknown city 'Plzn'; did you mean 'plzen'? (known: amsterdam,", config='[[feeds]]\nurl = "https://a.example/feed"\ncity = "Plzn"'),
    case("config feed theme typo", "status", 1, "{config}: feeds[0].theme: unknown theme 'brokrage'; did you mean 'brokerage'? (known:", config='[[feeds]]\nurl = "https://a.example/feed"\ntheme = "brokrage"'),
    case("config language", "status", 1, "{config}: channels.mastodon.language: unknown language 'english' (known: en, nl,", config='[channels.mastodon]\napi_base_url = "https://m.example"\nlanguage = "english"'),
    case("config allowed host", "status", 1, "{config}: ingest.allow_private_hosts[0]: 'http://10.0.0.1/' is not a host name", config='[ingest]\nallow_private_hosts = ["http://10.0.0.1/"]'),
    case("config ingest concurrency", "status", 1, "{config}: ingest.concurrency: must be at least 1", config="[ingest]\nconcurrency = 0"),
    case("config not UTF-8", "status", 1, "{config}: not UTF-8 text", files={"config.toml": b'[store]\npath = "caf\xe9.db"\n'}),
    case("config missing", ("--config", "{dir}/nowhere.toml", "status"), 1, "{dir}/nowhere.toml: config file not found"),
    case("store damaged", "queue list", 1, f"{{dir}}/damaged.db: {RESTORE_HINT}", config=DAMAGED_STORE, files=DAMAGED),
    case("store damaged status", "status", 1, f"{{dir}}/damaged.db: {RESTORE_HINT}", config=DAMAGED_STORE, files=DAMAGED),
    case("store damaged run", "run --once", 1, f"{{dir}}/damaged.db: {RESTORE_HINT}", config=DAMAGED_STORE, files=DAMAGED),
    case("store damaged backup", "backup {dir}/b.db", 1, f"{{dir}}/damaged.db: {RESTORE_HINT}", config=DAMAGED_STORE, files=DAMAGED),
    case("store not SQLite", "queue list", 1, "{dir}/garbage.db: not a usable SQLite store (file is not a database)", config='[store]\npath = "{dir}/garbage.db"', files=NOT_SQLITE),
    case("mastodon token unset", "channels test mastodon", 1, f"channels.mastodon.access_token_env names the environment variable {UNSET}, which is not set", config=MASTODON_UNSET),
    case("telegram token unset", "channels test telegram", 1, f"channels.telegram.bot_token_env names the environment variable {UNSET}, which is not set", config=TELEGRAM_UNSET),
    case("e-mail without unsubscribe", "channels test email", 1, "channels.email: set unsubscribe_url or unsubscribe_mailto", config=EMAIL_NO_WAY_OUT),
    # A total time for every network call, and digits that are ASCII digits (#13).
    case("config mastodon total time", "status", 1, "{config}: channels.mastodon.total_timeout: must be more than 0", config='[channels.mastodon]\napi_base_url = "https://m.example"\ntotal_timeout = 0'),
    case("config telegram total time", "status", 1, "{config}: channels.telegram.total_timeout: must be more than 0", config='[channels.telegram]\nchat_id = "@x"\ntotal_timeout = -1'),
    case("config bluesky total time", "status", 1, "{config}: channels.bluesky.total_timeout: must be more than 0", config='[channels.bluesky]\nhandle = "network.bsky.social"\ntotal_timeout = 0'),
    case("e-mail total time", "channels test email", 1, "channels.email.total_timeout: must be more than 0", config=EMAIL_TOTAL_ZERO),
    case("config slot Arabic-Indic digits", "status", 1, f"{{config}}: channels.mastodon.slots[0]: 'Tue {ARABIC_TEN}' is not a posting slot", config=f'[channels.mastodon]\napi_base_url = "https://m.example"\nslots = ["Tue {ARABIC_TEN}"]'),
]

ARGUMENT_CASES = [
    case("post id not a number", "queue show abc", 2, "Invalid value for 'POST_ID': 'abc' is not a valid integer"),
    case("post id too large", ("queue", "show", HUGE), 2, f"Invalid value for 'POST_ID': {HUGE} is too large"),
    case("post ids too large", ("queue", "cancel", "1", HUGE), 2, f"Invalid value for 'POST_IDS...': {HUGE} is too large"),
    case("limit too large", ("queue", "list", "--limit", HUGE), 2, f"Invalid value for '--limit': {HUGE} is too large"),
    case("limit zero", "practices list --limit 0", 2, "Invalid value for '--limit': 0 is not in the range x>=1"),
    case("no such post", "queue approve 999", 1, "no post with id 999"),
    case("retry no such post", "queue retry 999", 1, "no post with id 999"),
    case("time not a time", ("queue", "add", "x", "--at", "tomorrow"), 2, "Invalid value for --at: 'tomorrow' is not a time"),
    case("time out of range", ("queue", "add", "x", "--at", "0001-01-01 00:00"), 2, "Invalid value for --at: '0001-01-01 00:00' is out of range"),
    case("unknown channel", "queue add x --channel fax", 1, "{config}: no channel 'fax' is configured (configured: outbox)"),
    case("link not a URL", "queue add x --link notalink", 2, "Invalid value for --link: 'notalink' is not an http(s) URL"),
    case("empty announcement", ("queue", "add", ""), 1, "an announcement needs some text"),
    case("nothing to edit", "queue edit 1", 1, "nothing to change: give --text or --at"),
    case("bad status", "queue list --status lost", 2, "Invalid value for '--status': 'lost' is not one of"),
    case("no such practice", "practices show atlantis-lab", 1, "no practice with slug 'atlantis-lab'"),
    case("unknown city filter", "practices list --city Atlantis", 1, "--city: unknown city 'Atlantis'"),
    case("practice without city", "practices add --title X", 1, "practice: city is required"),
    case("near-miss city", ("practices", "add", *PRACTICE.replace("plzen", "Plzn").split()), 1, "practice: city: unknown city 'Plzn'; did you mean 'plzen'?"),
    case("practice url", ("practices", "add", *PRACTICE.replace("https://example.org/x", "notaurl").split()), 1, "practice: url: 'notaurl' is not an http(s) URL"),
    case("event kind", "events add --title X --kind party", 1, "event: kind: 'party' is not one of"),
    case("number too large", ("newsletters", "add", "--title", "N", "--number", HUGE, "--published", "2026-01-01", "--url", "https://a.b/n"), 1, f"newsletter: number: {HUGE} is too large"),
    case("preview no item", "preview practice atlantis-lab --channel outbox", 1, "no practice with slug 'atlantis-lab'"),
    case("preview unknown type", "preview podcast x --channel outbox", 1, "unknown content type 'podcast'"),
    case("export to no folder", "content export -o {dir}/none/x.json", 1, "{dir}/none/x.json: cannot write the export: No such file or directory"),
    case("export csv without type", "content export --format csv", 2, "--format csv needs --type"),
    case("since not a date", "stats --since soon", 2, "Invalid value for '--since': 'soon' is not a date"),
    case("since out of range", "stats --since 0001-01-01", 2, "Invalid value for '--since': '0001-01-01' is out of range"),
    case("until out of range", "stats --until 9999-12-31", 2, "Invalid value for '--until': '9999-12-31' is out of range"),
    case("period backwards", "stats --since 2026-12-01 --until 2026-01-01", 2, "2026-12-01 is not before the end of the period"),
    case("report to no folder", "report --html {dir}/none/r.html", 1, "{dir}/none/r.html: cannot write the report"),
    case("period garbage", "digest preview --period soon", 1, "period 'soon': use an ISO week (2026-W48) or a month (2026-11)"),
    case("period year 9999", "digest preview --period 9999-W52", 1, "period '9999-W52': the year must be from 1900 to 9998"),
    case("month 13", "digest send --period 2026-13", 1, "2026-13 is not a month"),
    case("period Arabic-Indic digits", ("digest", "preview", "--period", "٢٠٢٦-W٤٨"), 1, "period '٢٠٢٦-W٤٨': use an ISO week (2026-W48) or a month (2026-11)"),
    case("e-mail without @", "subscribers add not-an-email --frequency weekly", 1, "e-mail address 'not-an-email' needs exactly one @"),
    case("e-mail header trick", ("subscribers", "add", "a@b.org\nBcc: x@y.z", "--frequency", "weekly"), 1, "contains a line break: refused"),
    case("subscriber id too large", ("subscribers", "remove", f"#{HUGE}"), 1, f"no subscriber '#{HUGE}'"),
    case("unsubscribe token", "subscribers unsubscribe nonsense", 1, "no subscription has this token"),
    case("feed not a URL", "feeds add notaurl", 1, "URL: 'notaurl' is not an http(s) URL"),
    case("feed city", "feeds add https://a.example/feed --city Atlantis", 1, "--city: unknown city 'Atlantis'"),
    case("no such feed", "feeds remove https://nowhere.example/feed", 1, "no feed 'https://nowhere.example/feed'"),
    case("no such channel to test", "channels test fax", 1, "{config}: no channel 'fax' is configured"),
    case("format choice", "config show --format yaml", 2, "Invalid value for '--format': 'yaml' is not one of"),
    case("run --json alone", "run --json", 2, "--json goes with --once"),
    case("no such command", "publish-everything", 2, "No such command 'publish-everything'"),
    case("backup over a file", "backup {dir}/exists.db", 1, "{dir}/exists.db: already exists; give --force to overwrite it", files={"exists.db": b"keep me"}),
    case("backup into no folder", "backup {dir}/none/b.db", 1, "{dir}/none/b.db: the folder {dir}/none does not exist"),
    case("backup over the store", "backup {home}/commsbot.db --force", 1, "{home}/commsbot.db: that is the store itself"),
    case("check not a backup", "backup --check {dir}/garbage.db", 1, "{dir}/garbage.db: not a usable SQLite store", files=NOT_SQLITE),
    case("check damaged", "backup --check {dir}/damaged.db", 1, f"{{dir}}/damaged.db: {RESTORE_HINT}", files=DAMAGED),
    case("config path with NUL", ("--config", "a\x00b", "status"), 2, "Invalid value for '--config': 'a\\x00b' contains a NUL character"),
    case("import path with NUL", ("content", "import", "a\x00b.csv"), 2, "Invalid value for 'FILE': 'a\\x00b.csv' contains a NUL character"),
    case("backup to an empty path", ("backup", "", "--force"), 2, "Invalid value for 'PATH': the path is empty"),
    case("restore an empty path", ("restore", ""), 2, "Invalid value for 'PATH': the path is empty"),
    case("templates check unknown channel", "templates check --channel fax", 2, "Invalid value for --channel: unknown channel 'fax' (known: "),
    case("post id superscript", ("queue", "show", "²"), 2, "Invalid value for 'POST_ID': '²' is not a valid integer"),
    case("post id Arabic-Indic digit", ("queue", "approve", "٣"), 2, "Invalid value for 'POST_IDS...': '٣' is not a valid integer"),
    case("limit superscript", ("queue", "list", "--limit", "²"), 2, "Invalid value for '--limit': '²' is not a valid integer"),
    case("subscriber id superscript", ("subscribers", "remove", "#²"), 1, "no subscriber '#²'"),
    case("unsubscribe token like an option", ("subscribers", "unsubscribe", "-Xq3"), 1, "no subscription has this token"),
    case("unsubscribe token after --", ("subscribers", "unsubscribe", "--", "--Xq3"), 1, "no subscription has this token"),
    case("check no backup", "backup --check {dir}/none.db", 1, "{dir}/none.db: no such file"),
    case("restore not a backup", "restore {dir}/garbage.db", 1, "{dir}/garbage.db: not a usable SQLite store", files=NOT_SQLITE),
    case("restore no backup", "restore {dir}/none.db", 1, "{dir}/none.db: no such file"),
]

IMPORT_CASES = [
    case("import Latin-1 CSV", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: not UTF-8 text (byte 32); save the file as UTF-8", files={"practices.csv": LATIN1_CSV}),
    case("import UTF-16 JSON", "content import {dir}/items.json", 1, "{dir}/items.json: not UTF-8 text", files={"items.json": '{"practices": []}'.encode("utf-16")}),
    case("import bad JSON", "content import {dir}/items.json", 1, "{dir}/items.json: invalid JSON", files={"items.json": "{not json"}),
    case("import list without type", "content import {dir}/items.json", 1, "{dir}/items.json: a JSON list needs --type", files={"items.json": '[{"title": "X"}]'}),
    case("import a string", "content import {dir}/items.json", 1, "{dir}/items.json: expected an object of lists or a list of items", files={"items.json": '"practices"'}),
    case("import not a list", "content import {dir}/items.json", 1, "{dir}/items.json: practices must be a list", files={"items.json": '{"practices": {"a": 1}}'}),
    case("import wrong field type", "content import {dir}/items.json", 1, "{dir}/items.json: practices[0]: city: must be text, not list", files={"items.json": '{"practices": [{"title": "T", "city": ["plzen"]}]}'}),
    case("import unknown type", "content import {dir}/items.json", 1, "unknown content type 'podcasts'", files={"items.json": '{"podcasts": []}'}),
    case("import unknown column", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 2: unknown field 'colour'", files={"practices.csv": "title,colour\nX,red\n"}),
    case("import more values", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 2: more values than columns", files={"practices.csv": "title,city\nX,plzen,extra\n"}),
    case("import one bad row of three", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 3: theme: unknown theme 'gardening'", files={"practices.csv": THREE_ROWS}),
    case("import existing slug", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 2: a practice with slug 'already-here' already exists", files={"practices.csv": "slug,title,city,theme,summary,url\nalready-here,X,plzen,brokerage,s,https://a.b/c\n"}),
    case("import empty CSV", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: empty CSV file", files={"practices.csv": ""}),
    case("import a .txt", "content import {dir}/items.txt", 1, "{dir}/items.txt: import reads .json or .csv files", files={"items.txt": "title\nX\n"}),
    case("import no file", "content import {dir}/none.json", 1, "{dir}/none.json: file not found"),
    case("item file bad TOML", "practices add --from-file {dir}/item.toml", 1, "{dir}/item.toml: invalid TOML", files={"item.toml": "title = \n"}),
    case("subscribers bad row", "subscribers import {dir}/partners.csv", 1, "{dir}/partners.csv: row 3: e-mail address 'nobody' needs exactly one @", files={"partners.csv": "email,frequency\nanna@example.org,weekly\nnobody,weekly\n"}),
    case("subscribers Latin-1", "subscribers import {dir}/partners.csv", 1, "{dir}/partners.csv: not UTF-8 text", files={"partners.csv": "email,frequency,cities\nanna@example.org,weekly,Plze\xf1\n".encode("latin-1")}),
    case("import CSV field too long", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 2: a field is longer than 131,072 characters", files={"practices.csv": f"title,summary\nX,{LONG_FIELD}\n"}),
    case("import CSV header too long", "content import {dir}/practices.csv", 1, "{dir}/practices.csv: row 1: a field is longer than 131,072 characters", files={"practices.csv": f"{LONG_FIELD}\nX\n"}),
    case("subscribers CSV field too long", "subscribers import {dir}/partners.csv", 1, "{dir}/partners.csv: row 2: a field is longer than 131,072 characters", files={"partners.csv": f"email,cities\nanna@example.org,{LONG_FIELD}\n"}),
    case("subscribers bad frequency", "subscribers import {dir}/partners.csv", 1, "{dir}/partners.csv: row 2: frequency 'hourly'", files={"partners.csv": "email,frequency\nanna@example.org,hourly\n"}),
]

TEMPLATE_CASES = [
    case("template syntax", "preview practice {slug} --channel outbox", 1, "template practice.j2, line 1: Expected an expression", config=TEMPLATES, files={"templates/practice.j2": "{% if %}\n"}),
    case("template not UTF-8", "preview practice {slug} --channel outbox", 1, "template {dir}/templates/outbox/practice.j2: not UTF-8 text (byte 3); save it as UTF-8", config=TEMPLATES, files={"templates/outbox/practice.j2": b"Caf\xc3 {{ item.title }}"}),
    case("template undefined", "preview practice {slug} --channel outbox", 1, "template practice.j2 for practice '{slug}': 'dict object' has no attribute 'colour'", config=TEMPLATES, files={"templates/practice.j2": "{{ item.colour }}"}),
    case("template divides by zero", "preview practice {slug} --channel outbox", 1, "template practice.j2 for practice '{slug}': division by zero", config=TEMPLATES, files={"templates/practice.j2": "{{ 1 / 0 }}"}),
    case("template unknown filter", "preview practice {slug} --channel outbox", 1, "template practice.j2, line 1: No filter named 'sparkle'", config=TEMPLATES, files={"templates/practice.j2": "{{ item.title | sparkle }}"}),
    case("template renders nothing", "queue add Hello", 1, "template announcement.j2 for the announcement rendered nothing", config=TEMPLATES, files={"templates/announcement.j2": "{# nothing #}"}),
    case("template include missing", "queue add Hello", 1, "template announcement.j2 for the announcement: 'missing.j2' not found", config=TEMPLATES, files={"templates/announcement.j2": '{% include "missing.j2" %}'}),
    case("template include not UTF-8", "queue add Hello", 1, "template announcement.j2 for the announcement: a template it includes is not UTF-8 text", config=TEMPLATES, files={"templates/announcement.j2": '{% include "part.j2" %}', "templates/part.j2": b"\xff\xfe"}),
    case("templates check", "templates check --channel outbox", 1, "problem(s) in", config=TEMPLATES, files={"templates/event.j2": "{{ item.nope.deeper }}"}),
]
# fmt: on

CASES = CONFIG_CASES + ARGUMENT_CASES + IMPORT_CASES + TEMPLATE_CASES
KIND = {
    c.name: kind
    for kind, cases in (
        ("config files", CONFIG_CASES),
        ("command-line arguments", ARGUMENT_CASES),
        ("import files", IMPORT_CASES),
        ("templates", TEMPLATE_CASES),
    )
    for c in cases
}
assert len(KIND) == len(CASES), "case names must be unique"


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Counter[str]]:
    """Bad inputs tried, by kind; reported when the module's tests are done, if all passed."""
    tried: Counter[str] = Counter()
    failed = request.session.testsfailed
    yield tried
    if request.session.testsfailed > failed:
        return
    report(
        "bad input",
        {
            **{kind: n for kind, n in tried.items()},
            "inputs tried": tried.total(),
            "tracebacks": 0,
            "stored rows lost": 0,
        },
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the sample network, posts sent to the outbox, a subscriber and a post
    in the queue: what bad input must leave exactly as it is."""
    folder = tmp_path_factory.mktemp("bad-input")
    config = folder / "commsbot.toml"
    config.write_text(GOOD.format(dir=folder, service=""), encoding="utf-8")
    for args in (
        ["init", "--sample"],
        ["run", "--once"],
        ["queue", "add", "Final conference", "--at", "2030-01-01 10:00"],
        ["subscribers", "add", "anna@example.org", "--frequency", "weekly"],
        [
            "practices",
            "add",
            *PRACTICE.replace("--title X", "--slug already-here --title X").split(),
        ],
    ):
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    return folder


def fingerprint(db: Path) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of all its rows."""
    with Store(db, migrate=False) as store:
        tables = [
            r["name"]
            for r in store.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r["name"].startswith("sqlite_")
        ]
        found = {}
        for table in tables:
            data = sorted(repr(r) for r in store.conn.execute(f"SELECT * FROM {table}"))
            found[table] = (len(data), hashlib.sha256("\n".join(data).encode()).hexdigest())
        return found


def prepare(home: Path, bad: Case, folder: Path) -> tuple[list[str | bytes], str, Path]:
    """The files and config of a case; returns (args, expected message, config path)."""
    with Store(home / "commsbot.db", migrate=False) as store:
        slug = store.scalar("SELECT slug FROM practices ORDER BY id LIMIT 1")
    fill = {"dir": str(folder), "home": str(home), "slug": slug}
    for name, content in bad.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    config = folder / "config.toml"
    if "config.toml" not in bad.files:
        extra = (bad.config or "").format(**fill)
        if "[store]" in extra:  # a config of its own: another store
            text = f'{extra}\n[channels.outbox]\nenabled = true\npath = "{home}/outbox"\n'
        elif extra.startswith("[service]"):
            text = GOOD.format(dir=home, service=extra.removeprefix("[service]"))
        else:
            text = GOOD.format(dir=home, service="") + "\n" + extra + "\n"
        config.write_text(text, encoding="utf-8")
    fill["config"] = str(config)
    args = [a.format(**fill) if isinstance(a, str) else a for a in bad.args]
    if args[:1] != ["--config"]:
        args = ["--config", str(config), *args]
    return args, bad.message.format(**fill), config


def one_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.mark.parametrize("bad", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_clear_line_and_loses_nothing(
    home: Path, tmp_path: Path, bad: Case, monkeypatch: pytest.MonkeyPatch, tally: Counter[str]
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    before = fingerprint(home / "commsbot.db")
    args, message, _ = prepare(home, bad, tmp_path)

    # click takes bytes arguments too: that is how a non-UTF-8 argument arrives.
    result = CliRunner().invoke(cli, cast(list[str], args))
    tally[KIND[bad.name]] += 1

    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == bad.code, result.output
    assert message in one_error_line(result.output), result.output
    assert fingerprint(home / "commsbot.db") == before


# -- a few through the real entry point, as a shell runs them ---------------------------

SCHEDULES = '[service]\nschedules = "{dir}/schedules"'
BAD_SCHEDULE = {"schedules/bad.toml": '[publish]\nevery = "soon"\n'}
# fmt: off
PROCESS_CASES = [
    case("process: config error", "status", 1, "{config}: service.bogus: unknown key", config="[service]\nbogus = 1"),
    case("process: argument not UTF-8", ("queue", "add", b"Caf\xe9"), 2, "argument 'Caf\ufffd' is not UTF-8 text"),
    case("process: schedule error", "run", 2, "{dir}/schedules/bad.toml: publish.every: 'soon' is not an interval", config=SCHEDULES, files=BAD_SCHEDULE),
    case("process: store locked", "run --once", 1, "the store is in use by commsbot PID"),
]
# fmt: on


@pytest.mark.parametrize("bad", PROCESS_CASES, ids=[c.name for c in PROCESS_CASES])
def test_bad_input_through_a_real_process(
    home: Path, tmp_path: Path, tally: Counter[str], bad: Case
) -> None:
    command, expected, _ = prepare(home, bad, tmp_path)
    before = fingerprint(home / "commsbot.db")
    holder = None
    if bad.name.endswith("store locked"):
        # Another commsbot holds the store: the lock file's flock, as `commsbot run` takes it.
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(home / "commsbot.db")],
            stdout=subprocess.PIPE,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
    try:
        done = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"commsbot", *map(_bytes, command)],
            capture_output=True,
            timeout=60,
        )
    finally:
        if holder is not None:
            holder.kill()
            holder.wait(timeout=10)
    tally["real processes"] += 1
    stderr = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr
    assert done.returncode == bad.code, stderr
    assert expected in one_error_line(stderr), stderr
    assert fingerprint(home / "commsbot.db") == before


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from commsbot.service.lock import StoreLock
with StoreLock(Path(sys.argv[1]), "commsbot run"):
    print("locked", flush=True)
    time.sleep(60)
"""


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else os.fsencode(value)


# -- feeds -------------------------------------------------------------------------------

TWO_ITEMS = rss([item("One", link="https://a.example/1"), item("Two", link="https://a.example/2")])
LATIN1_FEED = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><item><title>Café</title><link>https://a.example/c</link></item></channel></rss>'
UNTITLED = '<rss version="2.0"><channel><title>T</title><item><link>https://a.example/x</link></item></channel></rss>'
# path, body, how it is served, exit code of `feeds check`, the problem it names
# fmt: off
BROKEN_FEEDS: list[tuple[str, bytes, dict[str, Any], int, str]] = [
    ("/garbage", b"\x00\x01\x02\xff\xfe garbage", {}, 1, "not an RSS or Atom feed"),
    ("/html", b"<html><body>Not a feed</body></html>", {"content_type": "text/html"}, 1, "text/html is not an XML media type"),
    ("/empty", b"", {}, 1, "not an RSS or Atom feed"),
    ("/json", b'{"items": []}', {"content_type": "application/json"}, 1, "not an RSS or Atom feed"),
    ("/missing", b"", {"status": 404}, 1, "HTTP 404 Not Found"),
    ("/error", b"oops", {"status": 500}, 1, "HTTP 500 Internal Server Error"),
    ("/cut", TWO_ITEMS.encode()[:-60], {}, 0, "the feed ends abruptly; its last entry waits for the next poll"),
    ("/latin1", LATIN1_FEED.encode("latin-1"), {}, 0, "document declared as utf-8, but parsed as windows-1252"),
    ("/untitled", UNTITLED.encode(), {}, 0, "1 entry skipped, e.g. https://a.example/x: no title and no text"),
    # Hostile servers (#13): an endless Retry-After, headers a byte at a time, a redirect inwards.
    ("/retry-huge", b"", {"status": 429, "headers": {"Retry-After": "9" * 5000}}, 1, "HTTP 429"),
    ("/retry-date", b"", {"status": 503, "headers": {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}}, 1, "HTTP 503"),
    ("/retry-junk", b"", {"status": 503, "headers": {"Retry-After": "-1, soon²"}}, 1, "HTTP 503"),
    ("/slow-headers", b"", {"trickle_headers": 0.05}, 1, "no complete answer within 2 s"),
    ("/to-metadata", b"", {"status": 302, "redirect_to": "http://169.254.169.254/latest/meta-data/"}, 1, "refused: 169.254.169.254 resolves to 169.254.169.254, a link-local address"),
]
# fmt: on


@pytest.fixture
def feeds_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


def test_broken_feeds_are_named_with_their_problem_and_lose_nothing(
    home: Path, tmp_path: Path, feeds_server: FeedServer, tally: Counter[str]
) -> None:
    config = tmp_path / "config.toml"
    # The feeds are served on loopback, which the operator must allow (#13).
    allow = '\n[ingest]\ntotal_timeout = 2\nallow_private_hosts = ["127.0.0.1"]\n'
    config.write_text(GOOD.format(dir=home, service="") + allow, encoding="utf-8")
    before = fingerprint(home / "commsbot.db")
    urls = []
    for path, body, options, code, problem in BROKEN_FEEDS:
        url = feeds_server.set(path, body, **options)
        urls.append(url)
        added = CliRunner().invoke(
            cli, ["--config", str(config), "feeds", "add", url, "--no-check"]
        )
        assert added.exit_code == 0, added.output
        result = CliRunner().invoke(cli, ["--config", str(config), "feeds", "check", url])
        tally["broken feeds"] += 1
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.exit_code == code, result.output
        [row] = [line for line in result.output.splitlines() if line.startswith(url)]
        assert problem in row, result.output
    after = fingerprint(home / "commsbot.db")

    # Only the feeds' own state and what they brought changed; every other table stayed.
    # (The news' full-text index, news_fts and its shadow tables, follows the news.)
    def kept(table: str) -> bool:
        return table not in ("feeds", "feed_entries", "news") and not table.startswith("news_fts")

    assert {t: v for t, v in after.items() if kept(t)} == {
        t: v for t, v in before.items() if kept(t)
    }
    for url in urls:
        removed = CliRunner().invoke(cli, ["--config", str(config), "feeds", "remove", url, "-y"])
        assert removed.exit_code == 0, removed.output


def test_a_feed_with_a_broken_header_line_is_named_without_a_traceback(
    home: Path, tmp_path: Path
) -> None:
    # urllib3 logs "Failed to parse headers" with its traceback and still returns the
    # answer; the real CLI, in its own process, must say it in one line.
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(30)
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nno colon on this line\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    config = tmp_path / "config.toml"
    allow = '\n[ingest]\ntotal_timeout = 5\nallow_private_hosts = ["127.0.0.1"]\n'
    config.write_text(GOOD.format(dir=home, service="") + allow, encoding="utf-8")
    url = f"http://127.0.0.1:{server.getsockname()[1]}/feed"
    commsbot = [sys.executable, "-m", "commsbot", "--config", str(config), "feeds"]
    try:
        subprocess.run([*commsbot, "add", url, "--no-check"], check=True, capture_output=True)
        checked = subprocess.run(
            [*commsbot, "check", url], capture_output=True, text=True, timeout=60
        )
    finally:
        server.close()
        thread.join(timeout=10)
    assert checked.returncode == 1, checked.stderr
    assert "Failed to parse headers" in checked.stderr  # the warning is still said
    assert "Traceback" not in checked.stdout + checked.stderr
    [row] = [line for line in checked.stdout.splitlines() if line.startswith(url)]
    assert "not an RSS or Atom feed" in row
    subprocess.run([*commsbot, "remove", url, "-y"], check=True, capture_output=True)


# -- bot commands ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replies(home: Path) -> Iterator[Replies]:
    config_path = home / "bot.toml"
    config_path.write_text(GOOD.format(dir=home, service=""), encoding="utf-8")
    with Store(home / "commsbot.db") as store:
        yield Replies(store, load_config(config_path), lambda: NOW)


COMMAND_WORDS = [c.name for c in COMMANDS]
ARGUMENT_WORDS = [
    "plzen",
    "Plzeň",
    "brokerage",
    "weekly",
    "monthly",
    "1",
    "-1",
    HUGE,
    "*",
    "<b>",
    "&",
    "'",
    '"',
    "%",
    "\\",
]


@settings(
    max_examples=FORM.bot_examples,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.one_of(st.sampled_from(COMMAND_WORDS), st.text(max_size=40)),
    args=st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from(ARGUMENT_WORDS), max_size=6).map(" ".join),
    ),
    admin=st.booleans(),
    data=st.one_of(st.text(max_size=64), st.just("p|plzen|brokerage|" + HUGE)),
)
def test_any_bot_command_gets_a_reply_and_no_stored_row_is_lost(
    replies: Replies,
    home: Path,
    tally: Counter[str],
    command: str,
    args: str,
    admin: bool,
    data: str,
) -> None:
    tally["bot commands and buttons (hypothesis)"] += 1
    counts = {t: n for t, (n, _) in fingerprint(home / "commsbot.db").items()}
    logged, reply = replies.answer(command, args, "42", admin=admin)
    assert logged in {*COMMAND_WORDS, "unknown"}
    assert is_valid_telegram_html(reply.text), reply.text
    page = replies.page(data)  # a button's callback data, as anyone can forge it
    assert page is None or is_valid_telegram_html(page.text)
    after = {t: n for t, (n, _) in fingerprint(home / "commsbot.db").items()}
    # Commands may add (a subscription, an announcement) but never take a row away.
    assert all(after.get(t, 0) >= n for t, n in counts.items()), (counts, after)
