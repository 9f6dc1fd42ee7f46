"""Content as the comms officer manages it: add, list, show, edit, remove, import, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from commsbot.content.items import add_items, export_data, import_file
from commsbot.content.places import Places
from commsbot.content.types import TYPES
from commsbot.errors import ContentError
from commsbot.store import Store
from commsbot.store import content as q
from commsbot.text import slugify
from tests.support.base import NOW, Invoke

PRACTICE = {
    "title": "Design for Health Vouchers",
    "city": "birmingham",
    "theme": "smart-incentives",
    "summary": "Vouchers let clinics buy design services.",
    "url": "https://example.org/vouchers",
}


def add(store: Store, **changes: object) -> None:
    add_items(store, TYPES["practice"], [("test", {**PRACTICE, **changes})], NOW)


def test_sample_network_matches_the_seed(sample_store: Store) -> None:
    assert len(q.cities(sample_store)) == 11
    assert len(q.institutions(sample_store)) == 12
    assert len(q.themes(sample_store)) == 4
    assert q.count(sample_store, "practice") == 44
    assert q.count(sample_store, "event") == 12
    assert q.count(sample_store, "newsletter") == 2
    pairs = {(p["city"], p["theme"]) for p in q.list_items(sample_store, "practice")}
    assert len(pairs) == 44  # one per city and theme
    assert all(p["example"] for p in q.list_items(sample_store, "practice"))
    plzen = [c for c in q.cities(sample_store) if c["slug"] == "plzen"]
    assert plzen[0]["name"] == "Plzeň"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"city": "Birmingam"},
            r"test: city: unknown city 'Birmingam'; did you mean 'birmingham'\?",
        ),
        ({"theme": "brokrage"}, r"theme: unknown theme 'brokrage'; did you mean 'brokerage'\?"),
        ({"title": ""}, r"test: title is required"),
        ({"url": "example.org/x"}, r"url: 'example.org/x' is not an http\(s\) URL"),
        ({"slug": "Bad Slug"}, r"slug: 'Bad Slug' is not a slug"),
        ({"tags": 5}, r"tags: must be a list of text"),
        ({"colour": "red"}, r"unknown field 'colour'"),
        ({"titel": "x"}, r"unknown field 'titel'; did you mean 'title'\?"),
    ],
)
def test_invalid_practice_is_refused_with_field_and_reason(
    sample_store: Store, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ContentError, match=message):
        add(sample_store, **changes)
    assert q.count(sample_store, "practice") == 44


def test_event_dates_are_checked(sample_store: Store) -> None:
    event = {"title": "GM5", "kind": "general-meeting", "start_date": "2015-02-30"}
    with pytest.raises(ContentError, match=r"start_date: '2015-02-30' is not a date"):
        add_items(sample_store, TYPES["event"], [("e", event)], NOW)
    event = {
        "title": "GM5",
        "kind": "general-meeting",
        "start_date": "2015-03-02",
        "end_date": "2015-03-01",
    }
    with pytest.raises(ContentError, match="end_date 2015-03-01 is before start_date 2015-03-02"):
        add_items(sample_store, TYPES["event"], [("e", event)], NOW)
    event = {"title": "GM5", "kind": "meeting", "start_date": "2015-03-02"}
    with pytest.raises(ContentError, match="kind: 'meeting' is not one of"):
        add_items(sample_store, TYPES["event"], [("e", event)], NOW)


def test_duplicate_slug_is_refused(sample_store: Store) -> None:
    add(sample_store)
    with pytest.raises(
        ContentError, match="a practice with slug 'design-for-health-vouchers' already exists"
    ):
        add(sample_store)


def test_names_and_local_names_resolve(sample_store: Store) -> None:
    ref = Places.load(sample_store)
    assert ref.resolve("city", "Plzeň") == "plzen"
    assert ref.resolve("city", "warsaw") == "warsaw"
    assert ref.resolve("city", "Warszawa") == "warsaw"
    assert ref.resolve("theme", "Brokerage") == "brokerage"
    assert slugify("Plzeň Creative Hub — Śródmieście") == "plzen-creative-hub-srodmiescie"


def test_import_with_a_bad_row_imports_nothing_and_names_the_row(
    sample_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "practices.csv"
    path.write_text(
        "title,city,theme,url,tags\n"
        "Good one,linz,brokerage,https://example.org/a,a;b\n"
        "Bad one,atlantis,brokerage,https://example.org/b,\n",
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match=r"practices\.csv: row 3: city: unknown city 'atlantis'"):
        import_file(sample_store, path, NOW)
    assert q.count(sample_store, "practice") == 44
    added, skipped = import_file(sample_store, path, NOW, skip_invalid=True)
    assert added == {"practice": 1}
    assert len(skipped) == 1 and "row 3" in skipped[0]
    item = q.get_item(sample_store, "practice", "good-one")
    assert item is not None and item["tags"] == ["a", "b"]


def test_import_refuses_a_file_that_is_not_utf8(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "practices.csv"
    path.write_bytes("title,city\nPlzeň,plzen\n".encode("cp1250"))
    with pytest.raises(ContentError, match=r"practices\.csv: not UTF-8 text \(byte \d+\)"):
        import_file(store, path, NOW)


def test_json_export_round_trip_loses_nothing(sample_store: Store, tmp_path: Path) -> None:
    add(sample_store, tags=["health", "machine-learning"], example=False)
    exported = export_data(sample_store)
    path = tmp_path / "all.json"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    with Store(tmp_path / "copy.db") as copy:
        added, skipped = import_file(copy, path, NOW)
        assert added == {"practice": 45, "event": 12, "newsletter": 2, "news": 0}
        assert skipped == []
        assert export_data(copy) == exported


def test_csv_export_round_trip(sample_store: Store, tmp_path: Path, invoke: Invoke) -> None:
    result = invoke("content", "export", "--format", "csv", "--type", "events")
    assert result.exit_code == 0, result.output
    path = tmp_path / "events.csv"
    path.write_text(result.output, encoding="utf-8")
    before = q.list_items(sample_store, "event")
    sample_store.conn.execute("DELETE FROM events")
    added, _ = import_file(sample_store, path, NOW)
    after = q.list_items(sample_store, "event")
    drop = ("id", "created_at", "updated_at")
    assert added == {"event": 12}
    assert [{k: v for k, v in e.items() if k not in drop} for e in after] == [
        {k: v for k, v in e.items() if k not in drop} for e in before
    ]


def test_cli_add_list_show_edit_remove(sample_store: Store, invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "practices",
        "add",
        "--title",
        "Kūrybinės Dirbtuvės",
        "--city",
        "Vilnius",
        "--theme",
        "Brokerage",
        "--tags",
        "co-working;užupis",
        "--tags",
        "games",
        "--url",
        "https://example.org/k",
    )
    assert result.exit_code == 0, result.output
    assert "added practice" in result.output
    item = q.get_item(sample_store, "practice", "kurybines-dirbtuves")
    assert item is not None
    assert item["title"] == "Kūrybinės Dirbtuvės"
    assert item["tags"] == ["co-working", "užupis", "games"]

    result = invoke("practices", "list", "--city", "vilnius")
    assert "kurybines-dirbtuves" in result.output and "Kūrybinės Dirbtuvės" in result.output
    result = invoke("practices", "show", "kurybines-dirbtuves", "--format", "json")
    assert json.loads(result.output)["city"] == "vilnius"

    result = invoke("practices", "edit", "kurybines-dirbtuves", "--summary", "New & improved")
    assert result.exit_code == 0, result.output
    edited = q.get_item(sample_store, "practice", "kurybines-dirbtuves")
    assert edited is not None and edited["summary"] == "New & improved"

    item_file = tmp_path / "p.toml"
    item_file.write_text(
        'title = "From TOML"\ncity = "linz"\ntheme = "brokerage"\n', encoding="utf-8"
    )
    result = invoke("practices", "add", "--from-file", str(item_file))
    assert result.exit_code == 0, result.output
    assert q.get_item(sample_store, "practice", "from-toml") is not None

    result = invoke("practices", "remove", "kurybines-dirbtuves", "--yes")
    assert result.exit_code == 0, result.output
    assert q.get_item(sample_store, "practice", "kurybines-dirbtuves") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["practices", "add", "--title", "X", "--city", "Atlantis", "--theme", "brokerage"],
            "Error: practice: city: unknown city 'Atlantis'",
        ),
        (["practices", "show", "no-such-thing"], "Error: no practice with slug 'no-such-thing'"),
        (
            ["practices", "edit", "no-such-thing", "--title", "x"],
            "Error: no practice with slug 'no-such-thing'",
        ),
        (
            ["events", "add", "--title", "X", "--kind", "party", "--start-date", "2015-01-01"],
            "kind: 'party' is not one of",
        ),
        (["practices", "add", "--from-file", "/nonexistent/p.toml"], "p.toml: file not found"),
        (["content", "import", "/nonexistent/x.json"], "x.json: file not found"),
        (["content", "import", "notes.txt"], "import reads .json or .csv files"),
        (
            ["practices", "list", "--city", "plzn"],
            "--city: unknown city 'plzn'; did you mean 'plzen'?",
        ),
    ],
)
def test_cli_bad_input_gets_a_clear_error(
    sample_store: Store, invoke: Invoke, args: list[str], message: str
) -> None:
    result = invoke(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert q.count(sample_store, "practice") == 44
