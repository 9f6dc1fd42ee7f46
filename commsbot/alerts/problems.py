"""What needs the officer now, read from the store: each problem by a stable name (the
alert's dedup key) with the facts its message tells."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from commsbot.config import Config
from commsbot.store import Store, from_iso
from commsbot.store import alerts as q
from commsbot.store import service as service_q

Found = dict[str, tuple[str, dict[str, Any]]]

# A platform's short "wait" (flood control) passes before anyone could act: an account
# paused for less than this is not worth an alert.
PAUSE_WORTH_TELLING = timedelta(minutes=5)

# Which [alerts] problems setting each post status belongs to.
_POST_PROBLEMS = {"pending_approval": "approval", "failed": "failed", "unknown": "unknown"}


def found(store: Store, config: Config, now: datetime, unopened: Iterable[str] = ()) -> Found:
    """Every problem ``[alerts] problems`` asks about: name -> (kind, facts).

    ``unopened`` names enabled accounts this run could not open (only a run knows).
    """
    wanted = set(config.alerts.problems)
    problems: Found = {}
    statuses = tuple(s for s, p in _POST_PROBLEMS.items() if p in wanted)
    if statuses:
        from commsbot.channels import markup_of
        from commsbot.text import telegram_visible

        for post in q.posts_in(store, statuses):
            kind = _POST_PROBLEMS[post["status"]]
            text = post["text"] or ""
            # A post stored as HTML (Telegram's) is quoted as its readers will see it.
            if markup_of(config, post["channel"]) == "html":
                text = telegram_visible(text)
            problems[f"post:{post['id']}:{post['status']}"] = (
                kind,
                {
                    "post": post["id"],
                    "account": post["channel"],
                    "error": post["last_error"] or "",
                    "text": text,
                },
            )
    if "account" in wanted:
        for state in q.troubled_accounts(store, now):
            name = state["channel"]
            if state["down_reason"]:
                problems[f"account:{name}:down"] = (
                    "account_down",
                    {"account": name, "error": state["down_reason"]},
                )
            elif from_iso(state["paused_until"]) - now >= PAUSE_WORTH_TELLING:
                problems[f"account:{name}:paused"] = (
                    "account_paused",
                    {"account": name, "until": state["paused_until"]},
                )
        for name in unopened:
            problems[f"account:{name}:unopened"] = ("account_unopened", {"account": name})
    if "part" in wanted:
        # Named by the part, not the try: the retries of one failure are one alert, and
        # it is resolved (told once) when the part runs again.
        for part in service_q.failing_parts(store):
            problems[f"part:{part['part']}:failed"] = ("part_failed", part_facts(config, part))
    if "feed" in wanted:
        for feed in q.disabled_feeds(store):
            problems[f"feed:{feed['id']}:disabled"] = (
                "feed",
                {"url": feed["url"], "error": feed["disabled_reason"] or feed["last_error"] or ""},
            )
    if "digest" in wanted:
        for row in q.failed_digest_deliveries(store):
            # The count is in the facts, not the name: more failures of one digest are
            # still one problem.
            problems[f"digest:{row['digest_id']}:failed"] = (
                "digest",
                {"period": row["period"], "count": row["failed"], "error": row["error"] or ""},
            )
    return problems


# The part that serves the console (commsbot.cli.run_cmds names it): what to check when it
# cannot start is its address, not a token.
CONSOLE_PART = "web-console"


def part_facts(config: Config, part: dict[str, Any]) -> dict[str, Any]:
    """What an alert and the console's Today page tell of a part that cannot start: its
    name, account, the one-line error, since when it fails, and what to check."""
    return {
        "part": part["part"],
        "account": part["account"] or "",
        "error": part["detail"] or "",
        "since": part["failing_since"] or part["since"],
        "check": part_check(config, part["kind"] or part["part"], part["account"]),
    }


def part_check(config: Config, kind: str, account: str | None) -> dict[str, str]:
    """What to check for a part that cannot start: for a Telegram bot the environment
    variable its token comes from and the Bot API it reaches; for the console the address
    it listens on. Names and addresses only, never a secret ({} when none applies)."""
    from urllib.parse import urlsplit

    from commsbot.channels.telegram import TelegramSettings, api_base

    settings = config.channels.get(account or "")
    if isinstance(settings, TelegramSettings):
        host = urlsplit(api_base(settings)[0]).netloc
        return {"what": "bot", "env": settings.bot_token_env, "host": host}
    if kind == CONSOLE_PART:
        return {"what": "console", "address": f"{config.web.host}:{config.web.port}"}
    return {}
