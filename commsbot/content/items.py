"""Content items: their fields, validation, import/export and the sample network.

Every error names the item (slug, or file and row) and the field, and a failed
import stores nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from commsbot.content.places import FIELD_PROBLEM, OPTION_PROBLEM, Places
from commsbot.content.translations import split_row
from commsbot.content.types import (
    PLURALS,
    SLUG_RE,
    TRANSLATED_FIELDS,
    TYPES,
    ContentType,
    Field,
    content_type,
    item_named,
    not_found,
)
from commsbot.errors import N_, ContentError, Message, StoreError, message_of
from commsbot.store import Store
from commsbot.store import answers as answers_q
from commsbot.store import content as q
from commsbot.store import translations as translations_q
from commsbot.text import slugify
from commsbot.text.user_input import whole_number

# Rows per write transaction of an import, and the pause between two: a batch takes well
# under a second even on a busy machine, far within the store's busy timeout.
IMPORT_BATCH = 1000
IMPORT_PAUSE_SECONDS = 0.1


def _convert(f: Field, value: Any, ref: Places) -> Any:
    if f.kind in ("text", "slug", "url", "date", "choice", "city", "theme"):
        if isinstance(value, date | datetime):
            value = value.isoformat()
        if isinstance(value, int | float) and not isinstance(value, bool) and f.kind == "text":
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(Message(N_("must be text, not %(kind)s"), kind=type(value).__name__))
        value = value.strip()
    if f.kind == "slug" and not SLUG_RE.match(value):
        raise ValueError(
            Message(
                N_("%(value)s is not a slug (lowercase letters, digits and hyphens)"),
                value=repr(value),
            )
        )
    if f.kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise ValueError(Message(N_("%(url)s is not an http(s) URL"), url=repr(value)))
    if f.kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                Message(N_("%(value)s is not a date (YYYY-MM-DD)"), value=repr(value))
            ) from None
    if f.kind == "choice" and value not in f.choices:
        near = difflib.get_close_matches(value, f.choices, n=1)
        if near:
            raise ValueError(
                Message(
                    N_("%(value)s is not one of %(choices)s; did you mean %(near)s?"),
                    value=repr(value),
                    choices=", ".join(f.choices),
                    near=repr(near[0]),
                )
            )
        raise ValueError(
            Message(
                N_("%(value)s is not one of %(choices)s"),
                value=repr(value),
                choices=", ".join(f.choices),
            )
        )
    if f.kind in ("city", "theme"):
        return ref.resolve(f.kind, value)
    if f.kind == "int":
        if isinstance(value, str):
            number = whole_number(value, signed=True)
            value = value if number is None else number
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(Message(N_("%(value)s is not a whole number"), value=repr(value)))
        if not -(2**63) <= value < 2**63:  # what an SQLite integer holds
            raise ValueError(Message(N_("%(value)s is too large"), value=value))
    if f.kind == "list":
        if isinstance(value, str):
            value = [v for v in (p.strip() for p in value.split(";")) if v]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(Message(N_("must be a list of text")))
        value = [v.strip() for v in value if v.strip()]
    if f.kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            value = value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise ValueError(Message(N_("%(value)s is not true or false"), value=repr(value)))
    return value


def validate(
    ctype: ContentType,
    data: dict[str, Any],
    ref: Places,
    where: str,
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """A clean item from raw data, or a ContentError naming ``where`` and the field."""
    unknown = [
        k for k in data if k not in ctype.names and k not in ("id", "created_at", "updated_at")
    ]
    if unknown:
        near = difflib.get_close_matches(unknown[0], ctype.names, n=1)
        if near:
            raise ContentError(
                N_("%(where)s: unknown field %(field)s; did you mean %(near)s?"),
                where=where,
                field=repr(unknown[0]),
                near=repr(near[0]),
            )
        raise ContentError(
            N_("%(where)s: unknown field %(field)s (fields: %(fields)s)"),
            where=where,
            field=repr(unknown[0]),
            fields=", ".join(ctype.names),
        )
    clean: dict[str, Any] = {}
    for f in ctype.fields:
        value = data.get(f.name)
        if value is None or value == "":
            if f.required and not partial:
                raise ContentError(
                    N_("%(where)s: %(field)s is required"), where=where, field=f.name
                )
            if f.required and partial and f.name in data:
                raise ContentError(
                    N_("%(where)s: %(field)s cannot be emptied"), where=where, field=f.name
                )
            if (not partial and f.name != "slug") or (partial and f.name in data):
                clean[f.name] = f.default
            continue
        try:
            clean[f.name] = _convert(f, value, ref)
        except ValueError as exc:
            raise ContentError(
                N_("%(where)s: %(field)s: %(problem)s"),
                where=where,
                field=f.name,
                problem=message_of(exc),
            ) from None
    if not partial:
        if not clean.get("slug"):
            clean["slug"] = slugify(str(clean.get(ctype.title_field) or clean.get("guid", "")))
            if not clean["slug"]:
                raise ContentError(
                    N_("%(where)s: slug: cannot make one from the title; give --slug"),
                    neutral=N_("%(where)s: slug: cannot make one from the title; give a slug"),
                    where=where,
                )
        if ctype.name == "event" and not clean.get("end_date"):
            clean["end_date"] = clean["start_date"]
    start, end = clean.get("start_date"), clean.get("end_date")
    if ctype.name == "event" and start and end and end < start:
        raise ContentError(
            N_("%(where)s: end_date %(end)s is before start_date %(start)s"),
            where=where,
            end=end,
            start=start,
        )
    return clean


def keep_images(store: Store, item: dict[str, Any], where: str | Message) -> None:
    """Copy the files an item's ``image`` and ``images`` name into the store's images and
    name the copies instead (``images.keep_local``), so backups keep every image of it
    and its sources may move; a file that is not an image is a ContentError naming it."""
    from commsbot.content import images

    field = "image"
    try:
        if item.get("image"):
            item["image"] = images.keep_local(store.path, item["image"])
        field = "images"
        if item.get("images"):
            item["images"] = [images.keep_local(store.path, i) for i in item["images"]]
    except ContentError as exc:
        raise ContentError(
            N_("%(where)s: %(field)s: %(problem)s"),
            where=where,
            field=field,
            problem=message_of(exc),
        ) from None


def add_items(
    store: Store,
    ctype: ContentType,
    raw_items: Sequence[tuple[str, dict[str, Any]]],
    now: datetime,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[str]]:
    """Validate all, then insert all in one transaction. Returns (added, skipped reasons)."""
    clean, skipped, translated = prepare_items(
        store, ctype, raw_items, skip_invalid=skip_invalid, progress=progress
    )
    return insert_prepared(store, ctype.name, clean, translated, now), skipped


# A slug's translations by language: {"pl": {"title": ..., "summary": ...}}.
Translated = dict[str, dict[str, dict[str, str]]]


def insert_prepared(
    store: Store,
    item_type: str,
    clean: Sequence[dict[str, Any]],
    translated: Translated,
    now: datetime,
) -> int:
    """Insert prepared items with their translations, in one transaction."""
    mine = {i["slug"] for i in clean} & set(translated)
    if not mine:
        return q.insert_items(store, item_type, clean, now)
    with store.write():
        added = q.insert_items(store, item_type, clean, now)
        ids = q.ids_by_slug(store, item_type, sorted(mine))
        # The sample network's translations are drafts of the team, like its practices.
        sample = {i["slug"] for i in clean if i.get("example")}
        for slug in mine:
            for lang, fields in translated[slug].items():
                translations_q.put_translation(
                    store, item_type, ids[slug], lang, fields, now, sample=slug in sample
                )
    return added


def prepare_items(
    store: Store,
    ctype: ContentType,
    raw_items: Sequence[tuple[str, dict[str, Any]]],
    *,
    ref: Places | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, Any]], list[str], Translated]:
    """Validate items and check their slugs are new, writing nothing: (clean, skipped,
    the translations of the clean items by slug)."""
    ref = ref or Places.load(store)
    clean: list[dict[str, Any]] = []
    skipped: list[str] = []
    seen: dict[str, str] = {}
    translated: Translated = {}
    for n, (where, data) in enumerate(raw_items, start=1):
        if progress is not None and n % 100 == 0:
            progress(100)
        try:
            own, translations = split_row(ctype, data, where)
            item = validate(ctype, own, ref, where)
            keep_images(store, item, where)
            if item.get("language", "en") in translations:
                raise ContentError(
                    N_("%(where)s: translations: %(language)s is the item's own language"),
                    where=where,
                    language=item.get("language", "en"),
                )
            if item["slug"] in seen:
                raise ContentError(
                    N_("%(where)s: slug %(slug)s is also used by %(other)s"),
                    where=where,
                    slug=repr(item["slug"]),
                    other=seen[item["slug"]],
                )
            seen[item["slug"]] = where
            clean.append(item)
            if translations:
                translated[item["slug"]] = translations
        except ContentError as exc:
            if not skip_invalid:
                raise
            skipped.append(message_of(exc))
    taken = q.existing_slugs(store, ctype.name, [i["slug"] for i in clean])
    if taken:
        messages = [
            Message(
                N_("%(where)s: a %(type)s with slug %(slug)s already exists"),
                where=seen[i["slug"]],
                type=Message(ctype.name),
                slug=repr(i["slug"]),
            )
            for i in clean
            if i["slug"] in taken
        ]
        if not skip_invalid:
            raise ContentError(messages[0])
        skipped.extend(messages)
        clean = [i for i in clean if i["slug"] not in taken]
    return clean, skipped, translated


def edit_item(
    store: Store, ctype: ContentType, slug: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    current = require_item(store, ctype, slug)
    where = item_named(ctype, slug)
    clean = validate(ctype, changes, Places.load(store), where, partial=True)
    keep_images(store, clean, where)
    if "slug" in clean and clean["slug"] != slug and q.get_item(store, ctype.name, clean["slug"]):
        raise ContentError(
            N_("%(where)s: slug %(slug)s is already taken"), where=where, slug=repr(clean["slug"])
        )
    merged = {**current, **clean}
    if ctype.name == "event" and merged["end_date"] < merged["start_date"]:
        raise ContentError(N_("%(where)s: end_date is before start_date"), where=where)
    if clean:
        q.update_item(store, ctype.name, slug, clean, now)
    return merged


def require_item(store: Store, ctype: ContentType, slug: str) -> dict[str, Any]:
    item = q.get_item(store, ctype.name, slug)
    if item is None:
        raise not_found(ctype, slug)
    return item


# -- files ---------------------------------------------------------------------


def cities(store: Store) -> list[dict[str, Any]]:
    """The cities by name, each with its names in other languages: for pick lists."""
    return q.cities(store)


def themes(store: Store) -> list[dict[str, Any]]:
    """The themes by name: for pick lists."""
    return q.themes(store)


def by_link(store: Store, url: str) -> dict[str, Any] | None:
    """The newest item of any type whose link is ``url``, with its ``item_type``."""
    return q.by_link(store, url)


def browse(
    store: Store, type_name: str, filters: dict[str, Any], limit: int, words: str = ""
) -> list[dict[str, Any]]:
    """Items of a type with these exact column values (slugs); with ``words``, the
    practices the full-text index finds for them, within the filters."""
    if not words:
        return q.list_items(store, type_name, filters=filters, limit=limit)
    found = q.search_practices(store, words, limit=limit)
    return [i for i in found if all(i.get(k) == v for k, v in filters.items())]


def count(store: Store, type_name: str) -> int:
    """How many items of a type the store holds."""
    return q.count(store, type_name)


# How many items a search lists when no --limit is given.
SEARCH_LIMIT = 50


def list_items(
    store: Store,
    ctype: ContentType,
    filters: dict[str, Any],
    limit: int,
    *,
    search: str | None = None,
) -> list[dict[str, Any]]:
    """Items of a type matching ``filters`` (a city or theme by slug, name, local name or
    exonym); with ``search``, the published items found as the bot's /search finds them
    (in any of their languages), within the filters."""
    wanted = dict(filters)
    places = Places.load(store)
    for key in ("city", "theme"):
        if key in wanted:
            try:
                wanted[key] = places.resolve(key, wanted[key])
            except ValueError as exc:
                raise ContentError(
                    OPTION_PROBLEM[key], neutral=FIELD_PROBLEM[key], problem=message_of(exc)
                ) from None
    if search is None:
        return q.list_items(store, ctype.name, filters=wanted, limit=limit)
    has_city = "city" in ctype.names
    cities, rest = places.split_cities(search.split()) if has_city else ([], search.split())
    if wanted.get("city"):
        cities = [c for c in cities if c == wanted["city"]] if cities else [wanted["city"]]
        if not cities:
            return []
    found = answers_q.search_items(store, ctype.name, " ".join(rest), limit or SEARCH_LIMIT, cities)
    items = [q.get_item_by_id(store, ctype.name, row["id"]) for row in found]
    return [
        i
        for i in items
        if i is not None and all(i.get(k) == v for k, v in wanted.items() if k != "city")
    ]


def remove_item(store: Store, ctype: ContentType, item_id: int, now: datetime) -> int:
    """Remove an item; its unsent posts are cancelled (how many), sent ones stay on record."""
    return q.delete_item(store, ctype.name, item_id, now)


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ContentError(f"{path}: file not found") from None
    except OSError as exc:
        raise ContentError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContentError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None


def read_csv(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[Any, Any]]]]:
    """The columns and the rows of a CSV file, each row with its number as a spreadsheet
    shows it; what the csv module refuses (a field over its size limit, a NUL) is a
    ContentError naming the row."""
    reader = csv.DictReader(io.StringIO(text))
    rows: list[tuple[int, dict[Any, Any]]] = []
    columns = None
    try:
        columns = reader.fieldnames
        if not columns:
            raise ContentError(N_("%(file)s: empty CSV file"), file=str(path))
        for n, row in enumerate(reader, start=2):
            rows.append((n, row))
    except csv.Error as exc:
        where = row_named(path, len(rows) + 2 if columns else 1)
        if "field limit" in str(exc):
            raise ContentError(
                N_("%(where)s: a field is longer than %(limit)s characters"),
                where=where,
                limit=f"{csv.field_size_limit():,}",
            ) from None
        raise ContentError(
            N_("%(where)s: not valid CSV (%(problem)s)"), where=where, problem=str(exc)
        ) from None
    return list(columns), rows


def row_named(path: Path, row: int) -> Message:
    """A CSV row as errors name it: "file.csv: row 3"."""
    return Message(N_("%(file)s: row %(row)s"), file=str(path), row=row)


INVALID_JSON = N_("%(file)s: invalid JSON: %(problem)s")
BAD_REFERENCE = N_("%(file)s: bad cities/themes/institutions: %(problem)s")


def read_item_file(path: Path) -> dict[str, Any]:
    """One item from a TOML or JSON file (for ``add --from-file``)."""
    text = read_text(path)
    data: Any
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ContentError(f"{path}: invalid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContentError(INVALID_JSON, file=str(path), problem=str(exc)) from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: must hold one object (a table of fields)")
    return data


def parse_import(
    path: Path, type_name: str | None, text: str | None = None
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Rows of an import file, grouped by content type, each labelled with where it stands;
    ``text``, when given, is the file's (an upload), and ``path`` only names it."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ContentError(N_("%(file)s: import reads .json or .csv files"), file=str(path))
    if text is None:
        text = read_text(path)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:  # the json module's words stay English
            raise ContentError(INVALID_JSON, file=str(path), problem=str(exc)) from None
        if isinstance(data, list):
            if not type_name:
                raise ContentError(
                    N_("%(file)s: a JSON list needs --type (practice, event, ...)"),
                    neutral=N_(
                        "%(file)s: a JSON list needs its content type (practice, event, ...)"
                    ),
                    file=str(path),
                )
            data = {content_type(type_name).plural: data}
        if not isinstance(data, dict):
            raise ContentError(
                N_("%(file)s: expected an object of lists or a list of items"), file=str(path)
            )
        groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for key, rows in data.items():
            if key in ("about", "cities", "themes", "institutions"):
                continue
            ctype = content_type(key)
            if not isinstance(rows, list):
                raise ContentError(N_("%(file)s: %(key)s must be a list"), file=str(path), key=key)
            for i, row in enumerate(rows):
                if not isinstance(row, dict):
                    raise ContentError(
                        N_("%(file)s: %(key)s[%(index)s] must be an object"),
                        file=str(path),
                        key=key,
                        index=i,
                    )
            groups[ctype.name] = [(f"{path}: {key}[{i}]", r) for i, r in enumerate(rows)]
        return groups
    guess = type_name or next((p for p in PLURALS if p in path.stem.lower()), None)
    if not guess:
        raise ContentError(
            N_("%(file)s: say which content type the CSV holds with --type"),
            neutral=N_("%(file)s: say which content type the CSV holds"),
            file=str(path),
        )
    ctype = content_type(guess)
    rows = []
    for n, row in read_csv(path, text)[1]:
        if None in row:
            raise ContentError(N_("%(where)s: more values than columns"), where=row_named(path, n))
        rows.append((row_named(path, n), {k: v for k, v in row.items() if v != ""}))
    return {ctype.name: rows}


def reference_from_file(path: Path, text: str | None = None) -> dict[str, list[dict[str, Any]]]:
    if path.suffix.lower() != ".json":
        return {}
    data = json.loads(read_text(path) if text is None else text)
    if not isinstance(data, dict):
        return {}
    return {
        k: data[k] for k in ("cities", "themes", "institutions") if isinstance(data.get(k), list)
    }


def import_file(
    store: Store,
    path: Path,
    now: datetime,
    *,
    type_name: str | None = None,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
    text: str | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Import a file (or ``text``, an upload that ``path`` names); all rows or (without
    ``skip_invalid``) none at all.

    Every row is validated before anything is written and before the store's write lock
    is taken. The rows are then written in batches of ``IMPORT_BATCH``, each a short
    transaction with a pause after it, so that other writers (the service, ``queue add``)
    never wait past the busy timeout. Should a batch fail (a full disk), the message says
    how many rows went in; importing the file again with ``skip_invalid`` adds the rest.
    """
    groups = parse_import(path, type_name, text)
    reference = reference_from_file(path, text)
    try:
        # The file's own cities and themes count as if they were stored already.
        ref = Places.of(
            [*q.cities(store), *reference.get("cities", [])],
            [*q.themes(store), *reference.get("themes", [])],
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ContentError(BAD_REFERENCE, file=str(path), problem=repr(exc)) from None
    prepared = {
        name: prepare_items(
            store, TYPES[name], groups[name], ref=ref, skip_invalid=skip_invalid, progress=progress
        )
        for name in ("practice", "event", "newsletter", "news")
        if name in groups
    }
    if reference:
        try:
            q.insert_reference(
                store,
                reference.get("cities", []),
                reference.get("themes", []),
                reference.get("institutions", []),
            )
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, KeyError, TypeError) as exc:
            raise ContentError(BAD_REFERENCE, file=str(path), problem=str(exc)) from None
    added: dict[str, int] = {}
    skipped: list[str] = []
    total = sum(len(clean) for clean, _, _ in prepared.values())
    done = 0
    for name, (clean, skip, translated) in prepared.items():
        added[name] = 0
        skipped.extend(skip)
        for start in range(0, len(clean), IMPORT_BATCH):
            if done:
                time.sleep(IMPORT_PAUSE_SECONDS)  # a window for writers waiting on the lock
            try:
                batch = clean[start : start + IMPORT_BATCH]
                written = insert_prepared(store, name, batch, translated, now)
            except (StoreError, sqlite3.IntegrityError) as exc:
                raise ContentError(_partial(path, exc, done, total)) from None
            added[name] += written
            done += written
    return added, skipped


def _partial(path: Path, exc: Exception, done: int, total: int) -> str:
    if isinstance(exc, sqlite3.IntegrityError):  # a slug taken meanwhile by another writer
        exc = ContentError(f"{path}: {exc}")
    if not done:
        return f"{exc}; nothing was imported"
    return (
        f"{exc}; {done} of {total} rows were imported before this: import the file again "
        "with --skip-invalid to add the rest (rows already there are skipped)"
    )


EXPORT_DROP = ("id", "created_at", "updated_at")


def export_data(store: Store, types: Iterable[str] | None = None) -> dict[str, Any]:
    """Everything needed to rebuild the content in another store."""
    chosen = list(types or TYPES)
    data: dict[str, Any] = {
        "cities": q.cities(store),
        "themes": q.themes(store),
        "institutions": [
            {**i, "lead_partner": bool(i["lead_partner"])} for i in q.institutions(store)
        ],
    }
    for name in chosen:
        ctype = TYPES[name]
        items = q.list_items(store, name)
        translations = translations_q.of_items(store, name, [i["id"] for i in items])
        rows = []
        for item in items:
            row = {k: v for k, v in item.items() if k not in EXPORT_DROP}
            if item["id"] in translations:
                row["translations"] = {
                    lang: {k: v for k, v in fields.items() if k != "sample"}
                    for lang, fields in translations[item["id"]].items()
                }
            rows.append(row)
        data[ctype.plural] = rows
    return data


def export_csv(store: Store, type_name: str) -> str:
    """One type as CSV; translations as ``title_pl``-style columns, for languages in use."""
    ctype = content_type(type_name)
    items = q.list_items(store, ctype.name)
    translations = translations_q.of_items(store, ctype.name, [i["id"] for i in items])
    used = sorted({lang for by_lang in translations.values() for lang in by_lang})
    extra = [f"{f}_{lang}" for lang in used for f in TRANSLATED_FIELDS.get(ctype.name, ())]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*ctype.names, *extra], lineterminator="\n")
    writer.writeheader()
    for item in items:
        row = {k: item.get(k) for k in ctype.names}
        for lang, fields in translations.get(item["id"], {}).items():
            row.update({f"{k}_{lang}": v for k, v in fields.items() if k != "sample"})
        for f in ctype.fields:
            if f.kind == "list":
                row[f.name] = ";".join(row[f.name] or [])
            elif row[f.name] is None:
                row[f.name] = ""
        writer.writerow(row)
    return out.getvalue()


def load_sample(store: Store, now: datetime) -> dict[str, int]:
    """Load the packaged sample network into a store that has no content yet."""
    if any(q.count(store, t) for t in TYPES):
        raise ContentError(f"{store.path}: the store already has content; sample not loaded")
    text = resources.files("commsbot.content.sample").joinpath("network.json").read_text("utf-8")
    data = json.loads(text)
    added: dict[str, int] = {}
    with store.write():
        q.insert_reference(store, data["cities"], data["themes"], data["institutions"])
        for name in ("practice", "event", "newsletter"):
            ctype = TYPES[name]
            rows = [(f"sample {ctype.plural}[{i}]", r) for i, r in enumerate(data[ctype.plural])]
            added[name], _ = add_items(store, ctype, rows, now)
    added["city"] = len(data["cities"])
    added["institution"] = len(data["institutions"])
    added["theme"] = len(data["themes"])
    return added


def newest_slug(store: Store, item_type: str) -> str | None:
    """The slug of the item of this type added last (the one a title just gave)."""
    return q.newest_slug(store, item_type)
