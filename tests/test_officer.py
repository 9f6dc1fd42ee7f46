"""The officer's first hour (#20), through the real CLI: nothing goes out by surprise,
exit codes for cron, and warnings instead of silent changes."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from commsbot.cli import cli
from commsbot.store import Store
from tests.support.telegram import CHANNEL, TOKEN_ENV, _toml
from tests.support.telegram_api import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    with FakeTelegram(max_poll_timeout=1.0) as server:
        monkeypatch.setenv(TOKEN_ENV, server.token)
        yield server


def example_config(folder: Path, extra: str = "") -> Path:
    """The example config as shipped (with its templates and schedules), plus ``extra``."""
    for name in ("templates", "schedules"):
        shutil.copytree(ROOT / name, folder / name)
    path = folder / "commsbot.toml"
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


def telegram_section(fake: FakeTelegram) -> str:
    settings = {
        "enabled": True,
        "bot_token_env": TOKEN_ENV,
        "chat_id": CHANNEL,
        "admins": [4242],
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "posts_per_minute": 1800,
    }
    return "[channels.telegram]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in settings.items())


def cli_at(config: Path) -> tuple[CliRunner, list[str]]:
    return CliRunner(), ["--config", str(config)]


def run(config: Path, *args: str) -> Result:
    runner, base = cli_at(config)
    return runner.invoke(cli, [*base, *args])


def statuses(config: Path, channel: str) -> dict[str, int]:
    with Store(config.parent / "commsbot.db") as store:
        rows = store.rows(
            "SELECT status, count(*) AS n FROM posts WHERE channel = ? GROUP BY status",
            (channel,),
        )
    return {r["status"]: r["n"] for r in rows}


# -- 1. enabling an account never posts the back catalogue ------------------------------


def test_enabling_telegram_on_the_sample_waits_for_approval_while_the_outbox_previews(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    config = example_config(tmp_path, telegram_section(fake))
    assert run(config, "init", "--sample").exit_code == 0
    result = run(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert fake.messages_to(CHANNEL) == []
    assert statuses(config, "telegram") == {"pending_approval": 58}
    # The outbox, a preview, shows the sample at once; only the 2012-2014 events and
    # newsletters wait there, old by their dates.
    assert statuses(config, "outbox") == {"sent": 44, "pending_approval": 14}
    assert "72 pending approval" in result.output
    pending = run(config, "queue", "list", "--status", "pending_approval", "--format", "json")
    notes = [p["last_error"] for p in json.loads(pending.output)["posts"]]
    assert all(n and n.startswith("backlog: ") and n.endswith("approve to post") for n in notes)
    # The practices are recent by date: what holds them is that they were there before.
    assert any("was in the store before telegram was first enabled" in n for n in notes)


def test_without_a_backlog_key_a_real_account_waits_and_the_outbox_posts_at_once(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    config = example_config(tmp_path, telegram_section(fake))
    text = config.read_text(encoding="utf-8")
    assert 'backlog = "approve"\n' in text
    config.write_text(text.replace('backlog = "approve"\n', ""), encoding="utf-8")
    assert run(config, "init", "--sample").exit_code == 0
    result = run(config, "run", "--once")
    assert result.exit_code == 0, result.output
    # The code's own default: approval on the real account, nothing sent...
    assert fake.messages_to(CHANNEL) == []
    assert statuses(config, "telegram") == {"pending_approval": 58}
    # ...while the outbox, a preview, shows the whole sample at once.
    assert statuses(config, "outbox") == {"sent": 58}


def test_content_added_after_the_first_run_goes_out_and_skip_records_the_reason(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    extra = telegram_section(fake).replace(
        "[channels.telegram]\n", '[channels.telegram]\nbacklog = "skip"\n'
    )
    config = example_config(tmp_path, extra)
    run(config, "init", "--sample")
    assert run(config, "run", "--once").exit_code == 0
    assert statuses(config, "telegram") == {"cancelled": 58}
    added = run(config, "queue", "add", "Open call: the Plzeň lab is hiring", "--now")
    assert added.exit_code == 0, added.output
    assert run(config, "run", "--once").exit_code == 0
    assert [m["plain_text"] for m in fake.messages_to(CHANNEL)] == [
        "Open call: the Plzeň lab is hiring"
    ]


def test_an_upgraded_store_counts_a_channel_that_posted_as_enabled_since_its_first_post(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    with Store(db, upto=12) as store:
        store.conn.execute(
            "INSERT INTO posts (item_type, item_id, item_ref, channel, status, not_before, "
            "idempotency_key, created_at, updated_at) VALUES ('practice', 1, 'p', 'mastodon', "
            "'sent', '2025-01-01T00:00:00Z', 'k', '2025-01-01T00:00:00Z', "
            "'2025-01-01T00:00:00Z')"
        )
    with Store(db) as store:
        assert store.rows("SELECT * FROM channel_enabled") == [
            {"channel": "mastodon", "first_enabled_at": "2025-01-01T00:00:00Z"}
        ]


# -- 2. a dry run -------------------------------------------------------------------


def test_dry_run_and_queue_plan_show_the_next_run_and_store_nothing(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    config = example_config(tmp_path, telegram_section(fake))
    run(config, "init", "--sample")
    db = tmp_path / "commsbot.db"
    dry = run(config, "run", "--once", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("dry run: nothing is sent or stored\n")
    assert "44 would post now, 0 later, 72 would wait for approval" in dry.output
    plan = run(config, "queue", "plan", "--json")
    data = json.loads(plan.output)
    assert data["dry_run"] is True
    by_channel: dict[str, set[str]] = {}
    for post in data["posts"]:
        by_channel.setdefault(post["channel"], set()).add(post["action"])
        assert post["id"] is None  # the run would create every one of them
    assert by_channel == {
        "outbox": {"post now", "wait for approval"},
        "telegram": {"wait for approval"},
    }
    # Times in the service's zone, with its offset.
    when = next(p["when"] for p in data["posts"] if p["when"])
    assert when.endswith(("+01:00", "+02:00"))
    assert fake.all_sent() == []
    assert not (tmp_path / "outbox").exists() or not any((tmp_path / "outbox").iterdir())
    with Store(db) as store:
        assert store.scalar("SELECT count(*) FROM posts") == 0
        assert store.scalar("SELECT count(*) FROM channel_enabled") == 0
    # The real run does what the plan said.
    assert run(config, "run", "--once").exit_code == 0
    assert statuses(config, "outbox") == {"sent": 44, "pending_approval": 14}
    assert statuses(config, "telegram") == {"pending_approval": 58}
    later = run(config, "queue", "plan")
    assert "0 would post now, 0 later, 72 would wait for approval" in later.output


def test_dry_run_needs_once(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    result = run(config, "run", "--dry-run")
    assert result.exit_code == 2
    assert "--dry-run goes with --once" in result.output


# -- 3. warnings instead of silent changes -----------------------------------------


def test_queue_add_refuses_a_past_time_unless_now(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init")
    past = run(config, "queue", "add", "Hello", "--at", "2001-01-01 09:00")
    assert past.exit_code == 2
    assert (
        "Invalid value for --at: '2001-01-01 09:00' (2001-01-01 09:00 CET) is in the past; "
        "give --now to post as soon as possible"
    ) in past.output
    with Store(tmp_path / "commsbot.db") as store:
        assert store.scalar("SELECT count(*) FROM posts") == 0
    now = run(config, "queue", "add", "Hello", "--now")
    assert now.exit_code == 0, now.output
    assert "post 1 on outbox: queued for" in now.output
    both = run(config, "queue", "add", "Hello", "--now", "--next-slot")
    assert both.exit_code == 2 and "give one of --at, --next-slot, --first and --now" in both.output


def test_queue_add_says_how_an_over_long_text_is_cut_or_threaded(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init")
    words = " ".join(f"word{i}" for i in range(150))  # about 1000 characters
    cut = CliRunner().invoke(cli, ["--config", str(config), "queue", "add", words, "--now"])
    assert cut.exit_code == 0, cut.output
    assert cut.stderr.startswith(
        "warning: outbox: the text is over its limit of 500 characters; it will be cut to "
    )
    assert "ending" in cut.stderr and 'long_posts = "thread"' in cut.stderr
    assert "post 1 on outbox: queued for" in cut.stdout
    threaded = example_config(tmp_path / "t")
    text = threaded.read_text(encoding="utf-8").replace(
        'path = "outbox"\n', 'path = "outbox"\nlong_posts = "thread"\n', 1
    )
    threaded.write_text(text, encoding="utf-8")
    run(threaded, "init")
    split = CliRunner().invoke(cli, ["--config", str(threaded), "queue", "add", words, "--now"])
    assert "it will be posted as a thread of 3 posts" in split.stderr
    short = CliRunner().invoke(cli, ["--config", str(config), "queue", "add", "short", "--now"])
    assert short.stderr == ""


def test_subscribers_add_warns_without_an_email_channel(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init")
    result = CliRunner().invoke(
        cli,
        ["--config", str(config), "subscribers", "add", "ana@example.org", "--frequency", "weekly"],
    )
    assert result.exit_code == 0, result.output
    assert "subscribed #1 email ana@example.org" in result.stdout
    assert result.stderr == (
        f"warning: no e-mail channel is enabled in {config}: no digest reaches this "
        "subscriber until [channels.email] is enabled\n"
    )


# -- 5. exit codes for cron and monitoring -------------------------------------------


def edit(config: Path, old: str, new: str) -> None:
    """Change one passage of a config file, as the officer would in an editor."""
    text = config.read_text(encoding="utf-8")
    assert old in text, old
    config.write_text(text.replace(old, new, 1), encoding="utf-8")


MASTODON_OFF = "[channels.mastodon]\nenabled = false"
MASTODON_ON = "[channels.mastodon]\nenabled = true"


@pytest.fixture
def tokenless(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example config with Mastodon enabled and its token not set."""
    monkeypatch.delenv("COMMSBOT_MASTODON_TOKEN", raising=False)
    config = example_config(tmp_path)
    edit(config, MASTODON_OFF, MASTODON_ON)
    return config


def test_run_once_exits_1_when_a_channel_could_not_be_opened(tokenless: Path) -> None:
    config = tokenless
    run(config, "init", "--sample")
    result = run(config, "run", "--once")
    assert result.exit_code == 1, result.output
    assert "problem: mastodon: " in result.stderr and "not set" in result.stderr
    assert "nothing to post" not in result.output
    assert statuses(config, "outbox")["sent"] == 44  # the rest still ran
    as_json = run(config, "run", "--once", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["problems"][0].startswith("mastodon: ")
    # Once the officer disables it, the same run is all well again.
    edit(config, MASTODON_ON, MASTODON_OFF)
    assert run(config, "run", "--once").exit_code == 0


def test_only_the_mastodon_channel_enabled_and_unopened_says_so(tokenless: Path) -> None:
    config = tokenless
    edit(config, "[channels.outbox]\nenabled = true", "[channels.outbox]\nenabled = false")
    result = run(config, "run", "--once")
    assert result.exit_code == 1
    assert "nothing posted: no channel could be opened (see the problems above)" in result.stdout


@pytest.mark.parametrize(
    "command",
    [("run", "--once"), ("digest", "send"), ("feeds", "check"), ("run", "--once", "--dry-run")],
)
def test_a_config_error_exits_2_naming_the_key(tmp_path: Path, command: tuple[str, ...]) -> None:
    config = example_config(tmp_path, '[ingest]\nmax_failures = "ten"\n')
    result = run(config, *command)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ")
    assert "ingest.max_failures" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_digest_send_exits_1_when_its_channel_could_not_be_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from commsbot.content.items import load_sample
    from tests.support.digest import at, smtp_server, subscribe, write_config

    monkeypatch.delenv("COMMSBOT_TEST_SMTP_USER", raising=False)
    monkeypatch.delenv("COMMSBOT_TEST_SMTP_PASSWORD", raising=False)
    with smtp_server() as smtp:
        config = write_config(tmp_path / "commsbot.toml", smtp.port)
        with Store(tmp_path / "commsbot.db") as store:
            load_sample(store, at("2026-11-18"))
            subscribe(store, "email", "ana@example.org", "weekly", at("2026-11-01"))
        assert run(config, "digest", "send", "--period", "2026-W47").exit_code == 0
        assert len(smtp.recorder.messages) == 1
        assert run(config, "digest", "send", "--period", "2026-W47").exit_code == 0  # none due
        with Store(tmp_path / "commsbot.db") as store:
            subscribe(store, "email", "ben@example.org", "weekly", at("2026-11-01"))
        text = config.read_text(encoding="utf-8").replace(
            "timeout = 5\n",
            'timeout = 5\nusername_env = "COMMSBOT_TEST_SMTP_USER"\n'
            'password_env = "COMMSBOT_TEST_SMTP_PASSWORD"\n',
        )
        config.write_text(text, encoding="utf-8")
        failed = run(config, "digest", "send", "--period", "2026-W47")
        assert failed.exit_code == 1, failed.output
        assert "problem: " in failed.stderr and "COMMSBOT_TEST_SMTP_USER" in failed.stderr
        assert len(smtp.recorder.messages) == 1


# -- 9. a queue list that pages, and approvals in bulk -----------------------------------


def test_queue_list_pages_with_a_total_and_all(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    run(config, "run", "--once")
    page = run(config, "queue", "list", "--limit", "20")
    assert page.exit_code == 0, page.output
    assert page.output.rstrip().endswith(
        "posts 1-20 of 58 (--all for every one; next page: --offset 20)"
    )
    last = run(config, "queue", "list", "--limit", "20", "--offset", "40")
    assert last.output.rstrip().endswith("posts 41-58 of 58 (--all for every one)")
    every = run(config, "queue", "list", "--all")
    assert every.output.rstrip().endswith("58 post(s)")
    data = json.loads(run(config, "queue", "list", "--format", "json", "--limit", "5").output)
    assert data["total"] == 58 and data["offset"] == 0 and len(data["posts"]) == 5
    # Times in the service's zone with its offset, as a person would read them.
    assert data["posts"][0]["not_before"].endswith(("+01:00", "+02:00"))
    assert (
        len(json.loads(run(config, "queue", "list", "--all", "--format", "json").output)["posts"])
        == 58
    )
    past = run(config, "queue", "list", "--offset", "100")
    assert "no post past 100: there are 58" in past.output


def test_approve_and_cancel_take_ranges_and_all_pending(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    run(config, "run", "--once")  # the events and newsletters, 45-58, wait for approval
    approved = run(config, "queue", "approve", "45-47", "50")
    assert approved.exit_code == 0, approved.output
    assert [line.split(":")[0] for line in approved.stdout.splitlines()] == [
        "post 45 approved",
        "post 46 approved",
        "post 47 approved",
        "post 50 approved",
    ]
    # A range over a post that cannot be approved does the rest and says which.
    mixed = run(config, "queue", "approve", "43-45", "48")
    assert mixed.exit_code == 1
    assert "Error: post 43 is sent;" in mixed.stderr and "Error: post 45 is queued;" in mixed.stderr
    assert "3 of 4 post(s) not changed" in mixed.stderr
    assert "post 48 approved" in mixed.stdout
    cancelled = run(config, "queue", "cancel", "--all-pending")
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout.splitlines() == [f"post {i} cancelled" for i in (49, *range(51, 59))]
    with Store(tmp_path / "commsbot.db") as store:
        assert store.scalar("SELECT count(*) FROM posts WHERE status = 'pending_approval'") == 0
    none = run(config, "queue", "approve", "--all-pending")
    assert none.exit_code == 0 and none.output == "no post is waiting for approval\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("7-3",), "'7-3': a range goes from the lower id to the higher"),
        (("x",), "'x' is not a valid integer"),
        (("1-",), "'1-' is not a post id or a range like 45-50"),
        (("1-20000",), "'1-20000' spans more than 10000 posts"),
        (("3", "--all-pending"), "give post ids or --all-pending, not both"),
        ((), "give post ids (12 13, or a range 45-50) or --all-pending"),
    ],
)
def test_bad_ranges_are_clear_usage_errors(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    config = example_config(tmp_path)
    result = run(config, "queue", "approve", *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


# -- 7. --first: share next ----------------------------------------------------------------


def test_first_takes_the_earliest_slot_and_names_the_post_it_moved(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        "slots = []\n", 'slots = ["Tue 10:00", "Thu 14:00"]\n', 1
    )
    config.write_text(text, encoding="utf-8")
    run(config, "init", "--sample")
    run(config, "run", "--once")  # the 44 practices take the coming slots, one each
    db = tmp_path / "commsbot.db"
    with Store(db) as store:
        before = store.rows(
            "SELECT id, not_before FROM posts WHERE status = 'queued' ORDER BY not_before"
        )
    assert len(before) == 44
    earliest, second_id = before[0], before[1]["id"]
    behind = run(config, "queue", "add", "Behind the backlog", "--next-slot")
    with Store(db) as store:
        late = store.scalar("SELECT not_before FROM posts WHERE id = 59")
    assert late > before[-1]["not_before"]  # --next-slot: after all 44
    assert behind.exit_code == 0
    urgent = run(config, "queue", "add", "Urgent: venue changed", "--first")
    assert urgent.exit_code == 0, urgent.output
    lines = urgent.stdout.splitlines()
    assert lines[0].startswith("post 60 on outbox: queued for ")
    assert lines[1].startswith(f"post {earliest['id']} on outbox (")
    assert lines[1].endswith(" to make room")
    with Store(db) as store:
        got = {r["id"]: r["not_before"] for r in store.rows("SELECT id, not_before FROM posts")}
        held = store.scalar(
            "SELECT count(*) FROM posts WHERE status = 'queued' GROUP BY not_before "
            "ORDER BY count(*) DESC LIMIT 1"
        )
    assert got[60] == earliest["not_before"]
    assert got[earliest["id"]] > late  # to the next free slot, after the one --next-slot took
    assert got[second_id] == before[1]["not_before"]  # nothing else moved
    assert held == 1  # one post per slot still
    # The move is in the moved post's trail, with both times as the officer reads them.
    shown = run(config, "queue", "show", str(earliest["id"]))
    moves = [line for line in shown.output.splitlines() if " moved by cli " in line]
    assert len(moves) == 1, shown.output
    assert re.search(
        r"moved by cli \(from \d{4}-\d\d-\d\d \d\d:00 CES?T to \d{4}-\d\d-\d\d \d\d:00 CES?T, "
        r"to make room for announcement-2 \(queue add --first\)\)$",
        moves[0],
    ), moves[0]
    untouched = run(config, "queue", "show", str(second_id))
    assert " moved by " not in untouched.output


# -- 13. output plumbing -------------------------------------------------------------------


def test_export_to_dash_is_stdout_and_practices_add_names_its_slug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    exported = run(config, "content", "export", "-o", "-")
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.stdout)["practices"]) == 44
    assert not (tmp_path / "-").exists()
    added = run(
        config,
        "practices",
        "add",
        "--title",
        "Design for Health Vouchers",
        "--city",
        "birmingham",
        "--theme",
        "smart-incentives",
        "--summary",
        "Vouchers.",
        "--url",
        "https://example.org/v",
    )
    assert added.stdout == "added practice design-for-health-vouchers\n"
    # Preview needs no --channel: every enabled account that takes the item.
    shown = run(config, "preview", "practice", "design-for-health-vouchers")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith("Design for Health Vouchers")
    assert "--- outbox: " in shown.stderr


def test_digest_preview_html_alone_on_stdout(tmp_path: Path) -> None:
    from commsbot.content.items import load_sample
    from tests.support.digest import at, write_config

    config = write_config(tmp_path / "commsbot.toml", 25)
    with Store(tmp_path / "commsbot.db") as store:
        load_sample(store, at("2026-11-18"))
    result = run(config, "digest", "preview", "--period", "2026-W47", "--part", "html")
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().startswith("<")
    assert "# Subject: " in result.stderr and "#" not in result.stdout.splitlines()[0]


# -- 8. digest retry -------------------------------------------------------------------


def test_digest_retry_resends_failed_deliveries_and_unknown_ones_only_by_id(
    tmp_path: Path,
) -> None:
    from commsbot.content.items import load_sample
    from tests.support.digest import at, smtp_server, subscribe, write_config

    with smtp_server() as smtp:
        config = write_config(
            tmp_path / "commsbot.toml", smtp.port, "[posting]\nmax_attempts = 1\n"
        )
        with Store(tmp_path / "commsbot.db") as store:
            load_sample(store, at("2026-11-18"))
            for who in ("ana", "ben", "cy"):
                subscribe(store, "email", f"{who}@example.org", "weekly", at("2026-11-01"))
        smtp.recorder.data_replies["ben@example.org"] = "451 4.3.0 try again later"
        smtp.recorder.drop_after_data.add("cy@example.org")
        first = run(config, "digest", "send", "--period", "2026-W47")
        assert first.exit_code == 1, first.output  # a failed and an unknown delivery
        assert len(smtp.recorder.to("ana@example.org")) == 1
        # Sending again says nobody is due: the failed one is only resent by retry.
        assert "nobody is due" in run(config, "digest", "send", "--period", "2026-W47").output
        del smtp.recorder.data_replies["ben@example.org"]
        smtp.recorder.drop_after_data.clear()
        retried = run(config, "digest", "retry", "--period", "2026-W47")
        assert retried.exit_code == 1, retried.output  # cy's unknown one still needs a look
        assert "1 unknown delivery(ies) not sent again: check that they did not arrive" in (
            retried.stdout
        )
        assert "1 delivery(ies) to send again" in retried.stdout
        assert len(smtp.recorder.to("ben@example.org")) == 1
        assert len(smtp.recorder.to("cy@example.org")) == 1  # the dropped one, once
        with Store(tmp_path / "commsbot.db") as store:
            unknown = store.scalar("SELECT id FROM digest_deliveries WHERE status = 'unknown'")
        checked = run(config, "digest", "retry", str(unknown))
        assert checked.exit_code == 0, checked.output
        assert len(smtp.recorder.to("cy@example.org")) == 2
        again = run(config, "digest", "retry", str(unknown))
        assert again.exit_code == 1
        assert f"delivery {unknown} is sent; only a failed or unknown one" in again.output
        nothing = run(config, "digest", "retry")
        assert nothing.exit_code == 0 and "no failed delivery to send again" in nothing.output


# -- 11. one clock for people -------------------------------------------------------------


def test_queue_show_and_list_read_in_the_service_zone(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init")
    run(config, "queue", "add", "Hello", "--at", "2030-03-01 09:00")
    shown = run(config, "queue", "show", "1")
    assert shown.exit_code == 0, shown.output
    assert re.search(r"^not_before +2030-03-01 09:00 CET$", shown.output, flags=re.M)
    assert re.search(r"^created_at +\d{4}-\d\d-\d\d \d\d:\d\d CES?T$", shown.output, flags=re.M)
    assert not re.search(r"\d\dZ\b", shown.output)  # no UTC stamp is left for a person
    listed = run(config, "queue", "list")
    assert "2030-03-01 09:00 CET" in listed.output
    data = json.loads(run(config, "queue", "list", "--format", "json").output)
    assert data["posts"][0]["not_before"] == "2030-03-01T09:00:00+01:00"


def _times(data: object, key: str = "") -> list[str]:
    """Every ISO time (a string with a T) in a JSON document, at any depth."""
    if isinstance(data, dict):
        return [t for k, v in data.items() for t in _times(v, k)]
    if isinstance(data, list):
        return [t for v in data for t in _times(v, key)]
    found = isinstance(data, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d.*", data)
    return [data] if found and isinstance(data, str) else []


def test_status_feeds_and_subscribers_read_in_the_service_zone(tmp_path: Path) -> None:
    from tests.support.feeds import feed_server, item, rss

    config = example_config(tmp_path, '[ingest]\nallow_private_hosts = ["127.0.0.1"]\n')
    run(config, "init")
    with feed_server() as server:
        url = server.set("/rss", rss([item("Hello Tallinn", guid="h")]))
        assert run(config, "feeds", "add", url).exit_code == 0
        assert run(config, "run", "--once").exit_code in (0, 1)
    assert (
        run(config, "subscribers", "add", "ana@example.org", "--frequency", "weekly").exit_code == 0
    )
    # JSON: ISO 8601 with the offset of Europe/Brussels (+01:00 in winter, +02:00 in summer).
    for command in (
        ("status", "--json"),
        ("feeds", "list", "--format", "json"),
        ("subscribers", "list", "--format", "json"),
        ("queue", "slots", "--format", "json"),
    ):
        result = run(config, *command)
        assert result.exit_code == 0, result.output
        times = _times(json.loads(result.output))
        if command[0] != "queue":  # the outbox has no slots: no time to show
            assert times, (command, result.output)
        assert all(re.search(r"\+0[12]:00$", t) for t in times), (command, times)
    status = run(config, "status").output
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", status), status
    listed = run(config, "feeds", "list").output
    assert re.search(r"\d\d:\d\d CES?T", listed), listed
    subscribers = run(config, "subscribers", "list").output
    assert re.search(r"\d\d:\d\d CES?T", subscribers), subscribers
    for text in (status, listed, subscribers):  # no UTC stamp is left for a person
        assert not re.search(r"\d\dZ\b|\+00:00", text), text


# -- 10. an image with its alt text, and a text per account ------------------------------


def test_queue_add_with_an_image_and_a_text_per_account(tmp_path: Path, fake: FakeTelegram) -> None:
    config = example_config(tmp_path, telegram_section(fake))
    run(config, "init")
    picture = tmp_path / "gm5.png"
    Image.new("RGB", (4, 3), "blue").save(picture, "PNG")
    no_alt = run(config, "queue", "add", "GM5", "--image", str(picture), "--now")
    assert no_alt.exit_code == 2
    assert "--image needs --alt TEXT, for people who cannot see it" in no_alt.output
    alt_alone = run(config, "queue", "add", "GM5", "--alt", "A hall", "--now")
    assert alt_alone.exit_code == 2 and "--alt describes an --image" in alt_alone.output
    missing = run(config, "queue", "add", "GM5", "--image", "gone.png", "--alt", "x", "--now")
    assert missing.exit_code == 2 and "gone.png" in missing.output
    bad_pair = run(config, "queue", "add", "GM5", "--text-for", "telegram", "--now")
    assert bad_pair.exit_code == 2 and "'telegram' is not NAME=TEXT" in bad_pair.output
    stray = run(config, "queue", "add", "GM5", "--text-for", "mastodon=Hi", "--now")
    assert stray.exit_code == 1
    assert "a text for mastodon, which this announcement does not go to" in stray.output
    with Store(tmp_path / "commsbot.db") as store:
        assert store.scalar("SELECT count(*) FROM posts") == 0
    added = run(
        config,
        "queue",
        "add",
        "General Meeting 5 opens in Vilnius",
        "--image",
        str(picture),
        "--alt",
        "The Vilnius town hall, where GM5 meets",
        "--text-for",
        "telegram=GM5 opens in Vilnius today 🎉",
        "--now",
    )
    assert added.exit_code == 0, added.output
    assert run(config, "run", "--once").exit_code == 0
    sent = fake.messages_to(CHANNEL)
    assert [(m["method"], m["caption"]) for m in sent] == [
        ("sendPhoto", "GM5 opens in Vilnius today 🎉")
    ]
    assert sent[0]["photo_data"] == picture.read_bytes()
    with Store(tmp_path / "commsbot.db") as store:
        rows = store.rows("SELECT channel, text, payload FROM posts ORDER BY channel")
    outbox = rows[0]
    assert outbox["text"] == "General Meeting 5 opens in Vilnius"
    assert json.loads(outbox["payload"])["image_alt"] == "The Vilnius town hall, where GM5 meets"


def test_subscribers_import_names_every_bad_row_and_imports_none(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    csv_file = tmp_path / "partners.csv"
    csv_file.write_text(
        "email,frequency,cities\n"
        "anna@example.org,weekly,plzen\n"
        "nobody,weekly,\n"
        "ben@example.org,hourly,\n"
        "anna@example.org,monthly,\n",
        encoding="utf-8",
    )
    result = run(config, "subscribers", "import", str(csv_file))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {csv_file}: 3 bad rows, nothing imported: "
        "row 3: e-mail address 'nobody' needs exactly one @ between name and domain; "
        "row 4: frequency 'hourly' must be weekly or monthly; "
        "row 5: anna@example.org is already on row 2\n"
    )
    with Store(tmp_path / "commsbot.db") as store:
        assert store.scalar("SELECT count(*) FROM subscribers") == 0


# -- 12. the report's first impression ----------------------------------------------------


def test_stats_top_without_engagement_says_so_rather_than_ranking_zeros(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    run(config, "run", "--once")
    result = run(config, "stats", "top")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("No engagement yet on the posts sent from ")
    assert "an account that reports them (Mastodon, Telegram)" in result.output
    assert "#" not in result.output  # no ranking table of zeros


def test_a_dry_run_names_a_template_error_exits_1_and_stores_no_failed_post(
    tmp_path: Path,
) -> None:
    config = example_config(tmp_path)
    broken = tmp_path / "templates" / "newsletter.j2"
    broken.write_text("{{ item.missing }}\n", encoding="utf-8")
    run(config, "init", "--sample")
    for args in (("queue", "plan"), ("run", "--once", "--dry-run", "--json")):
        result = run(config, *args)
        assert result.exit_code == 1, result.output
        assert "template newsletter.j2 for newsletter 'newsletter-1'" in result.output
    with Store(tmp_path / "commsbot.db") as store:
        assert store.scalar("SELECT count(*) FROM posts") == 0


def test_the_report_on_a_fresh_install_says_why_there_are_no_figures(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    run(config, "init", "--sample")
    run(config, "queue", "add", "General Meeting 5 opens today", "--now")  # no theme
    run(config, "run", "--once")
    out = tmp_path / "report.html"
    result = run(config, "report", "--html", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'id="no-engagement"' in html
    assert "Figures come once an account that reports them is enabled" in html
    # The bar of posts without a theme says what they are.
    assert "no theme: events, newsletters and announcements" in html
    assert "no city: newsletters and announcements" in html
