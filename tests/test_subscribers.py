"""Subscribers: address validation, choices, import, leaving in one step, forgetting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from commsbot.errors import ContentError
from commsbot.store import Store, audience
from commsbot.text.addresses import normalize_email
from tests.support.base import NOW, Invoke
from tests.support.digest import delivery_rows


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Anna.Nowak@Example.ORG", "anna.nowak@example.org"),
        ("  jonas+digest@vilnius.lt ", "jonas+digest@vilnius.lt"),
        ("info@łódź.pl", "info@xn--d-uga0v4h.pl"),
        # IDNA 2008: ß is a letter of its own, not "ss" as Python's IDNA 2003 codec has it.
        ("anna@straße.de", "anna@xn--strae-oqa.de"),
        ("Anna@STRASSE.de", "anna@strasse.de"),
        ("o'brien@example.co.uk", "o'brien@example.co.uk"),
    ],
)
def test_addresses_are_normalized(given: str, stored: str) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("a@example.org\r\nBcc: all@example.org", "contains a line break: refused"),
        ("a@example.org\nX-Spam: no", "contains a line break: refused"),
        ("Anna <a@example.org>", "give one bare address (name@example.org)"),
        ("a@example.org, b@example.org", "give one bare address (name@example.org)"),
        ("a@example.org;b@example.org", "give one bare address (name@example.org)"),
        ('"a b"@example.org', "give one bare address (name@example.org)"),
        ("a b@example.org", "contains spaces or control characters"),
        ("a\x00@example.org", "contains spaces or control characters"),
        ("example.org", "needs exactly one @ between name and domain"),
        ("a@b@example.org", "needs exactly one @ between name and domain"),
        ("a..b@example.org", "cannot have two periods in a row"),
        ("ö@example.org", "only ASCII is supported before the @"),
        ("a@localhost", "It should have a period"),
        ("a@-bad.org", "cannot have a hyphen immediately after the @-sign"),
        ("a@example.123", "It is not within a valid top-level domain"),
        ("a@exa_mple.org", "contains invalid characters: '_'"),
        ("a@xn--zz.org", "not valid"),
        ("", "an e-mail address is empty"),
    ],
)
def test_bad_addresses_are_refused(given: str, error: str) -> None:
    with pytest.raises(ContentError) as caught:
        normalize_email(given)
    assert error in str(caught.value)


def stored(store: Store, address: str) -> dict[str, Any]:
    found = audience.get_subscriber(store, "email", address)
    assert found is not None, address
    return found


def test_add_list_change_remove(sample_store: Store, invoke: Invoke) -> None:
    result = invoke(
        "subscribers", "add", "Anna@Example.org", "--frequency", "weekly",
        "--city", "Plzeň", "--city", "tallinn", "--theme", "Brokerage",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == (  # the no-e-mail-channel warning is on stderr (#20)
        "subscribed #1 email anna@example.org: weekly, cities: plzen, tallinn, themes: brokerage, language: en\n"
    )
    result = invoke("subscribers", "add", "anna@example.org", "--frequency", "monthly")
    assert (
        result.stdout
        == "subscribed #1 email anna@example.org: monthly, cities: all, themes: all, language: en\n"
    )
    result = invoke("subscribers", "list", "--format", "json")
    [row] = json.loads(result.output)
    assert (row["address"], row["frequency"], row["cities"], row["themes"], row["status"]) == (
        "anna@example.org",
        "monthly",
        [],
        [],
        "active",
    )
    assert invoke("subscribers", "remove", "ANNA@example.org").output == (
        "unsubscribed #1 email anna@example.org\n"
    )
    assert invoke("subscribers", "list").output == "(none)\n"
    listed = invoke("subscribers", "list", "--status", "unsubscribed").output
    assert "anna@example.org" in listed and "unsubscribed" in listed


def test_add_refuses_with_suggestions(sample_store: Store, invoke: Invoke) -> None:
    result = invoke(
        "subscribers", "add", "a@example.org", "--frequency", "weekly", "--city", "Tallin"
    )
    assert result.exit_code == 1
    assert result.output == "Error: unknown city 'Tallin'; did you mean 'tallinn'?\n"
    result = invoke(
        "subscribers", "add", "a@example.org", "--frequency", "weekly", "--theme", "brokrage"
    )
    assert result.output == "Error: unknown theme 'brokrage'; did you mean 'brokerage'?\n"
    result = invoke(
        "subscribers", "add", "a@example.org\r\nBcc: x@example.org", "--frequency", "weekly"
    )
    assert result.exit_code == 1
    assert "contains a line break: refused" in result.output
    assert "Traceback" not in result.output
    result = invoke("subscribers", "add", "a@example.org", "--frequency", "daily")
    assert result.exit_code == 2
    assert "'daily' is not one of 'weekly', 'monthly'" in result.output
    assert audience.list_subscribers(sample_store, status=None) == []


def test_unsubscribe_by_token_is_one_step(sample_store: Store, invoke: Invoke) -> None:
    invoke("subscribers", "add", "a@example.org", "--frequency", "weekly")
    token = stored(sample_store, "a@example.org")["token"]
    result = invoke("subscribers", "unsubscribe", token)
    assert result.output == "unsubscribed #1 email a@example.org\n"
    found = audience.get_subscriber(sample_store, "email", "a@example.org")
    assert found is not None and found["status"] == "unsubscribed"
    assert found["unsubscribed_at"] is not None
    result = invoke("subscribers", "unsubscribe", "no-such-token")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no subscription has this token (it may have been forgotten already)\n"
    )


def test_tokens_never_look_like_options(sample_store: Store, invoke: Invoke) -> None:
    for n in range(200):  # URL-safe base64 began with '-' about 1 time in 64
        invoke("subscribers", "add", f"p{n}@example.org", "--frequency", "weekly")
    tokens = [r["token"] for r in sample_store.rows("SELECT token FROM subscribers")]
    assert len(tokens) == 200
    assert all(not t.startswith("-") and len(t) == 48 for t in tokens)


@pytest.mark.parametrize("before", [(), ("--",)])
def test_an_old_token_that_begins_with_a_dash_still_unsubscribes(
    sample_store: Store, invoke: Invoke, before: tuple[str, ...]
) -> None:
    invoke("subscribers", "add", "old@example.org", "--frequency", "weekly")
    with sample_store.write() as conn:  # as tokens were made before (#13)
        conn.execute("UPDATE subscribers SET token = '-Xq3-old' WHERE address = 'old@example.org'")
    result = invoke("subscribers", "unsubscribe", *before, "-Xq3-old")
    assert result.output == "unsubscribed #1 email old@example.org\n"


def test_forget_deletes_personal_data(sample_store: Store, invoke: Invoke) -> None:
    invoke("subscribers", "add", "a@example.org", "--frequency", "weekly")
    sid = stored(sample_store, "a@example.org")["id"]
    with sample_store.write() as conn:
        conn.execute(
            "INSERT INTO digests (frequency, period, created_at) VALUES ('weekly', '2026-W47', ?)",
            ("2026-11-23T00:00:00Z",),
        )
        conn.execute(
            "INSERT INTO digest_deliveries (digest_id, subscriber_id, channel, status, created_at) "
            "VALUES (1, ?, 'email', 'sent', '2026-11-23T00:00:00Z')",
            (sid,),
        )
    result = invoke("subscribers", "forget", "a@example.org")
    assert result.output == "forgot subscriber #1: their address and choices are deleted\n"
    assert sample_store.rows("SELECT * FROM subscribers") == []
    [delivery] = delivery_rows(sample_store)
    assert (delivery["subscriber_id"], delivery["status"]) == (None, "sent")
    result = invoke("subscribers", "forget", "a@example.org")
    assert result.exit_code == 1
    assert result.output == (
        "Error: no subscriber 'a@example.org' (use an e-mail address, ACCOUNT:ADDRESS such as "
        "telegram:ID, or #ID)\n"
    )


def test_find_by_id_and_telegram_chat(sample_store: Store, invoke: Invoke) -> None:
    audience.upsert_subscriber(sample_store, "telegram", "4242", "weekly", [], [], NOW)
    assert invoke("subscribers", "remove", "telegram:4242").output == (
        "unsubscribed #1 telegram 4242\n"
    )
    assert invoke("subscribers", "forget", "#1").output == (
        "forgot subscriber #1: their address and choices are deleted\n"
    )


def test_a_subscriber_is_found_on_its_account(sample_store: Store, invoke: Invoke) -> None:
    """Two e-mail senders and two bots (#16): an address on one account is found bare, by
    the account's name or its kind; an address on two must name its account."""
    sample_store.conn.execute(
        "INSERT INTO accounts (name, kind, first_seen_at, last_seen_at) VALUES "
        "('partners-email', 'email', 'x', 'x'), ('news-bot', 'telegram', 'x', 'x'), "
        "('warsaw-bot', 'telegram', 'x', 'x')"
    )
    for channel, address in [
        ("email", "a@example.org"),
        ("partners-email", "a@example.org"),
        ("partners-email", "b@example.org"),
        ("news-bot", "4242"),
        ("warsaw-bot", "4242"),
        ("warsaw-bot", "77"),
    ]:
        audience.upsert_subscriber(sample_store, channel, address, "weekly", [], [], NOW)
    assert invoke("subscribers", "remove", "B@example.org").output == (
        "unsubscribed #3 partners-email b@example.org\n"
    )
    assert invoke("subscribers", "remove", "telegram:77").output == (
        "unsubscribed #6 warsaw-bot 77\n"
    )
    for ambiguous, accounts in [
        ("a@example.org", "email, partners-email"),
        ("telegram:4242", "news-bot, warsaw-bot"),
    ]:
        refused = invoke("subscribers", "remove", ambiguous)
        assert refused.exit_code == 1
        assert refused.output == (
            f"Error: {ambiguous!r} subscribes on several accounts ({accounts}): give "
            "ACCOUNT:ADDRESS or #ID\n"
        )
    assert invoke("subscribers", "remove", "Partners-Email:a@example.org").output == (
        "unsubscribed #2 partners-email a@example.org\n"
    )
    assert invoke("subscribers", "forget", "news-bot:4242").exit_code == 0
    remaining = sample_store.rows("SELECT channel, address, status FROM subscribers ORDER BY id")
    assert remaining == [
        {"channel": "email", "address": "a@example.org", "status": "active"},
        {"channel": "partners-email", "address": "a@example.org", "status": "unsubscribed"},
        {"channel": "partners-email", "address": "b@example.org", "status": "unsubscribed"},
        {"channel": "warsaw-bot", "address": "4242", "status": "active"},
        {"channel": "warsaw-bot", "address": "77", "status": "unsubscribed"},
    ]


def test_import_csv(sample_store: Store, invoke: Invoke, tmp_path: Path) -> None:
    audience.upsert_subscriber(sample_store, "email", "left@example.org", "weekly", [], [], NOW)
    left = audience.get_subscriber(sample_store, "email", "left@example.org")
    assert left is not None
    audience.set_subscriber_status(sample_store, left["id"], "unsubscribed", NOW)
    csv_file = tmp_path / "partners.csv"
    csv_file.write_text(
        "email,frequency,cities,themes\n"
        "anna@example.org,weekly,Plzeň;Vilnius,\n"
        "Jonas@Example.org,monthly,,brokerage\n"
        "left@example.org,weekly,,\n",
        encoding="utf-8",
    )
    result = invoke("subscribers", "import", str(csv_file))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{csv_file}: 2 added, 0 updated\nleft out: left@example.org (unsubscribed)\n"
    )
    rows = {
        r["address"]: (r["frequency"], r["cities"], r["themes"], r["status"])
        for r in audience.list_subscribers(sample_store, status=None)
    }
    assert rows == {
        "anna@example.org": ("weekly", ["plzen", "vilnius"], [], "active"),
        "jonas@example.org": ("monthly", [], ["brokerage"], "active"),
        "left@example.org": ("weekly", [], [], "unsubscribed"),
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            "email,frequency\nok@example.org,weekly\n"
            '"bad@example.org\r\nBcc: x@example.org",weekly\n',
            "row 3: e-mail address 'bad@example.org\\r\\nBcc: x@example.org' contains a line "
            "break: refused",
        ),
        (
            "email,frequency,cities\nok@example.org,weekly,\nb@example.org,weekly,Tallin\n",
            "row 3: unknown city 'Tallin'; did you mean 'tallinn'?",
        ),
        (
            "email,frequency\nok@example.org,weekly\nok@example.org,monthly\n",
            "row 3: ok@example.org is already on row 2",
        ),
        (
            "mail,frequency\nok@example.org,weekly\n",
            "needs an 'email' column (found: mail, frequency)",
        ),
        (
            "email,city\nok@example.org,x\n",
            "unknown column 'city' (known: email, frequency, cities, themes, language)",
        ),
        (
            "email,frequency\nok@example.org,daily\n",
            "row 2: frequency 'daily' must be weekly or monthly",
        ),
    ],
)
def test_import_is_all_or_nothing(
    sample_store: Store, invoke: Invoke, tmp_path: Path, content: str, error: str
) -> None:
    csv_file = tmp_path / "partners.csv"
    csv_file.write_bytes(content.encode("utf-8"))
    result = invoke("subscribers", "import", str(csv_file))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert error in result.output
    assert str(csv_file) in result.output
    assert audience.list_subscribers(sample_store, status=None) == []
