"""Alert messages in the recipient's language: one alert, or several (a daily summary, or a
run that found more than ``max_per_run``), with Approve / Edit / Cancel buttons for posts
waiting for approval and a link to the console's page for each problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from commsbot.bot.alert_buttons import button_data
from commsbot.channels.base import Action
from commsbot.config import Config
from commsbot.i18n import Speaker, speaker
from commsbot.store import from_iso

# A post's text as an alert quotes it, and the most approval rows of buttons one message
# carries (Telegram allows 100 buttons; a summary of 40 approvals is read in the console).
QUOTE = 160
MAX_BUTTON_ROWS = 10


@dataclass(frozen=True)
class Written:
    """An alert message as it goes out: subject (e-mail), text, buttons (Telegram)."""

    subject: str
    text: str
    actions: tuple[tuple[Action, ...], ...] = ()


def console_url(config: Config) -> str | None:
    """The console's address for links, when people can reach one (``[web] base_url``)."""
    return config.web.public_url if config.web.base_url else None


def page(config: Config, alert: dict[str, Any]) -> str | None:
    """The console page for an alert's problem, or None without a console address."""
    base = console_url(config)
    if base is None:
        return None
    facts, kind = alert["facts"], alert["kind"]
    if "post" in facts:
        return f"{base}/posts/{facts['post']}"
    if kind == "feed":
        return f"{base}/feeds"
    if kind == "digest":
        return f"{base}/subscribers"
    return f"{base}/"


def line(alert: dict[str, Any], words: Speaker, config: Config) -> str:
    """One alert in one sentence (or two, quoting a post's text)."""
    facts, kind = alert["facts"], alert["kind"]
    if kind == "approval":
        text = words.gettext(
            "Post %(post)s to %(account)s waits for your approval.",
            post=facts["post"],
            account=facts["account"],
        )
        if facts.get("error"):
            text += f" ({facts['error']})"
        quote = " ".join(facts.get("text", "").split())
        if quote:
            text += "\n« " + (quote if len(quote) <= QUOTE else quote[: QUOTE - 1] + "…") + " »"
        return text
    if kind == "failed":
        return words.gettext(
            "Post %(post)s to %(account)s failed: %(error)s",
            post=facts["post"],
            account=facts["account"],
            error=facts.get("error") or "?",
        )
    if kind == "unknown":
        return words.gettext(
            "Post %(post)s to %(account)s may or may not have gone out: check %(account)s, "
            "then retry or cancel it.",
            post=facts["post"],
            account=facts["account"],
        )
    if kind == "account_down":
        return words.gettext(
            "Account %(account)s is stopped: %(error)s",
            account=facts["account"],
            error=facts["error"],
        )
    if kind == "account_paused":
        until = from_iso(facts["until"]).astimezone(config.zone).strftime("%Y-%m-%d %H:%M %Z")
        return words.gettext(
            "Account %(account)s is paused until %(until)s.", account=facts["account"], until=until
        )
    if kind == "account_unopened":
        return words.gettext(
            "Account %(account)s could not be opened: see commsbot channels test %(account)s.",
            account=facts["account"],
        )
    if kind == "part_failed":
        return part_line(facts, words)
    if kind == "feed":
        return words.gettext(
            "Feed %(url)s is disabled: %(error)s", url=facts["url"], error=facts["error"]
        )
    if kind == "digest":
        return words.ngettext(
            "%(num)s delivery of the %(period)s digest failed: %(error)s",
            "%(num)s deliveries of the %(period)s digest failed: %(error)s",
            facts["count"],
            period=facts["period"],
            error=facts["error"],
        )
    if kind == "test":
        return words.gettext("Test alert: alerts from commsbot reach you here.")
    return str(kind)


def part_line(facts: dict[str, Any], words: Speaker) -> str:
    """A part that cannot start, and on a second line what to check."""
    check = facts.get("check") or {}
    if check.get("what") == "bot":
        text = words.gettext(
            "The Telegram bot of %(account)s cannot start: %(error)s",
            account=facts["account"],
            error=facts["error"],
        )
    elif check.get("what") == "console":
        text = words.gettext("The console cannot start: %(error)s", error=facts["error"])
    else:
        text = words.gettext(
            "%(part)s cannot start: %(error)s", part=facts["part"], error=facts["error"]
        )
    hint = check_text(check, words)
    return text + ("\n" + hint if hint else "")


def check_text(check: dict[str, str], words: Speaker) -> str:
    """What to check for a part that cannot start (``problems.part_check``), or ""."""
    if check.get("what") == "bot":
        return words.gettext(
            "Check the bot token in the environment variable %(env)s, and that %(host)s "
            "can be reached from this machine.",
            env=check["env"],
            host=check["host"],
        )
    if check.get("what") == "console":
        return words.gettext(
            "Check that no other program listens on %(address)s ([web] host and port).",
            address=check["address"],
        )
    return ""


def _with_link(alert: dict[str, Any], words: Speaker, config: Config) -> str:
    text = line(alert, words, config)
    url = page(config, alert)
    return text + ("\n" + words.gettext("Open: %(url)s", url=url) if url else "")


def _buttons(
    alerts: Sequence[dict[str, Any]], words: Speaker, config: Config, numbered: bool
) -> tuple[tuple[Action, ...], ...]:
    rows: list[tuple[Action, ...]] = []
    for alert in alerts:
        if alert["kind"] != "approval" or len(rows) >= MAX_BUTTON_ROWS:
            continue
        post = int(alert["facts"]["post"])
        mark = f" #{post}" if numbered else ""
        url = page(config, alert)
        edit = (
            Action(words.gettext("Edit") + mark, url=url)
            if url
            else Action(words.gettext("Edit") + mark, data=button_data("edit", post))
        )
        rows.append(
            (
                Action(words.gettext("Approve") + mark, data=button_data("approve", post)),
                edit,
                Action(words.gettext("Cancel") + mark, data=button_data("cancel", post)),
            )
        )
    return tuple(rows)


def write(
    alerts: Sequence[dict[str, Any]],
    language: str,
    config: Config,
    *,
    daily: bool = False,
    resolved: Sequence[dict[str, Any]] = (),
) -> Written:
    """The message telling ``alerts`` (one, or several in one list) in ``language``; a
    daily summary also lists the alerts ``resolved`` since the last one."""
    words = speaker(language, config.service.templates)
    if len(alerts) == 1 and not daily:
        text = _with_link(alerts[0], words, config)
        first = text.splitlines()[0]
        return Written(
            words.gettext("commsbot alert: %(problem)s", problem=first),
            text,
            _buttons(alerts, words, config, numbered=False),
        )
    n = len(alerts)
    if daily and not n:
        head = words.gettext("Daily summary: nothing new needs you.")
    elif daily:
        head = words.ngettext(
            "Daily summary: %(num)s problem needs you.",
            "Daily summary: %(num)s problems need you.",
            n,
        )
    else:
        head = words.ngettext("%(num)s problem needs you.", "%(num)s problems need you.", n)
    parts = [head, *("• " + _with_link(a, words, config) for a in alerts)]
    if resolved:
        parts.append(
            words.gettext("Resolved since the last summary:")
            + "\n"
            + _listed(resolved, words, config)
        )
    if n:
        subject = words.ngettext(
            "commsbot: %(num)s problem needs you", "commsbot: %(num)s problems need you", n
        )
    else:
        subject = _resolved_subject(len(resolved), words)
    return Written(subject, "\n\n".join(parts), _buttons(alerts, words, config, numbered=True))


def _resolved(alert: dict[str, Any], words: Speaker, config: Config) -> str:
    """What a resolved alert was about, in one line."""
    return line(alert, words, config).splitlines()[0]


def _listed(alerts: Sequence[dict[str, Any]], words: Speaker, config: Config) -> str:
    return "\n".join("• " + _resolved(a, words, config) for a in alerts)


def _resolved_subject(n: int, words: Speaker) -> str:
    return words.ngettext(
        "commsbot: %(num)s problem resolved", "commsbot: %(num)s problems resolved", n
    )


def write_resolved(alerts: Sequence[dict[str, Any]], language: str, config: Config) -> Written:
    """The short "resolved" message for ``alerts`` (one, or several in one list), whose
    problems are gone, in ``language``."""
    words = speaker(language, config.service.templates)
    if len(alerts) == 1:
        problem = _resolved(alerts[0], words, config)
        return Written(
            words.gettext("commsbot resolved: %(problem)s", problem=problem),
            words.gettext("Resolved: %(problem)s", problem=problem),
        )
    n = len(alerts)
    head = words.ngettext("%(num)s problem is resolved:", "%(num)s problems are resolved:", n)
    return Written(_resolved_subject(n, words), f"{head}\n{_listed(alerts, words, config)}")
