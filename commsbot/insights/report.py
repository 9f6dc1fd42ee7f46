"""The coordinator's HTML report: one self-contained file, charts as inline SVG.

Reads the store through ``insights.figures``, aggregates with ``insights.stats``,
lays charts out with ``commsbot.charts`` and renders ``templates/report/report.html.j2``.
The page makes no requests: no scripts, no fonts, no images, CSS inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from commsbot import __version__
from commsbot.i18n import DEFAULT, N_, Speaker, speaker
from commsbot.insights import charts, figures
from commsbot.insights import movement as mv
from commsbot.insights import stats as st
from commsbot.render import Renderer
from commsbot.store import Store

TEMPLATE = "report/report.html.j2"


# The bar of posts without a theme (or city) says what they are: "(none)" read as the
# biggest theme of all.
NO_THEME = N_("no theme: events, newsletters and announcements")
NO_CITY = N_("no city: newsletters and announcements")


def named_none(groups: list[st.Group], label: str) -> list[st.Group]:
    """The groups, the one of posts without a city or theme labelled with what they are."""
    for group in groups:
        if group.key is None:
            group.label = label
    return groups


def report_context(
    store: Store,
    period: st.Period,
    now: datetime,
    top: int,
    words: Speaker,
    hashtags: Sequence[str] = (),
    digest_channels: Sequence[str] = (),
    movement_accounts: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything the report template shows, computed once, in ``words``' language."""
    # Theme names in the report's language (the heat-map's columns, the theme table).
    summary = figures.summary(store, period, figures.reference(store).spoken(words))
    subscribers = figures.subscriber_history(store)
    commands, bot_total = figures.bot_usage(store, period)
    sub_groups, sub_total = st.subscriber_summary(subscribers, period, digest_channels)
    growth = st.subscriber_growth(subscribers, period, digest_channels)

    weekly = summary.cross("week", "channel")
    themes = named_none(summary.groups("theme"), words.gettext(NO_THEME))
    cities = named_none(summary.groups("city"), words.gettext(NO_CITY))
    heat = summary.cross("city", "theme", skip_none=True)
    movement = mv.load(store, period, top, accounts=movement_accounts)
    return {
        "period": period,
        "generated": now.astimezone(period.zone).strftime("%Y-%m-%d %H:%M %Z"),
        "version": __version__,
        "total": summary.total(),
        # A quotes column only where a platform that counts them (Bluesky) posted.
        "quotes": st.shows_quotes(summary.cells),
        "weekly": weekly,
        "weekly_chart": charts.stacked_columns(
            [label for _, label in weekly.rows],
            {
                label: [row[i].engagement for row in weekly.cells]
                for i, (_, label) in enumerate(weekly.columns)
            },
        ),
        # Several accounts make one platform: both views, one table each.
        "accounts": summary.groups("channel"),
        "platforms": summary.groups("platform"),
        "themes": themes,
        "themes_chart": charts.bar_chart([(g.label, g.engagement) for g in themes]),
        "cities": cities,
        "cities_chart": charts.bar_chart([(g.label, g.engagement) for g in cities]),
        "heat": heat,
        "heat_chart": charts.heat_map(
            [label for _, label in heat.rows],
            [label for _, label in heat.columns],
            [[(g.engagement, g.posts) for g in row] for row in heat.cells],
        ),
        "top": figures.top_posts(store, period, top),
        "subscribers": sub_groups,
        "subscribers_total": sub_total,
        "growth": growth,
        "has_subscribers": bool(subscribers),
        "growth_chart": charts.line_chart(growth.weeks, growth.active),
        "commands": commands,
        "bot_total": bot_total,
        "bot_chart": charts.bar_chart([(c.command, c.queries) for c in commands]),
        **movement_context(movement, hashtags, words),
    }


def movement_context(
    movement: mv.MovementFigures, hashtags: Sequence[str], words: Speaker | None = None
) -> dict[str, Any]:
    """The movement section: its figures and charts (series named in ``words``' language,
    English by default)."""
    words = words or speaker(DEFAULT)
    weeks = movement.weeks
    audience = movement.audience
    return {
        "movement": movement,
        "hashtags": [f"#{tag}" for tag in hashtags],
        "voices_chart": charts.stacked_columns(
            [w.week for w in weeks],
            {
                words.gettext("new voices"): [w.new_voices for w in weeks],
                words.gettext("returning voices"): [w.voices - w.new_voices for w in weeks],
            },
        ),
        "languages_chart": charts.bar_chart([(x.language, x.statuses) for x in movement.languages]),
        "audience_chart": charts.line_chart(
            audience.weeks, {s.label: s.values for s in audience.series}
        ),
    }


def render_report(
    store: Store,
    period: st.Period,
    now: datetime,
    *,
    top: int = 10,
    templates: Path | None,
    hashtags: Sequence[str] = (),
    digest_channels: Sequence[str] = (),
    movement_accounts: Sequence[str] = (),
    language: str = "en",
) -> str:
    """The report as one HTML document in ``language`` (labels, dates, numbers);
    ``hashtags`` are the campaign's (``[movement]``), ``digest_channels`` the accounts whose
    subscribers are shown even when there are none, ``movement_accounts`` the Mastodon
    and Bluesky accounts tracking the movement, each on a line."""
    renderer = Renderer(templates, language)
    words = renderer.words
    context = report_context(
        store, period, now, top, words, hashtags, digest_channels, movement_accounts
    )
    context["period_text"] = period.describe()
    if renderer.language != "en":  # English keeps the report's established ISO dates
        context["generated"] = words.datetime(now, period.zone, "long")
        context["period_text"] = describe_period(period, words)
    renderer.env.filters.update(
        thousands=words.number,
        day=(lambda d: d.strftime("%Y-%m-%d")) if words.language == "en" else words.date,
    )
    return renderer.render_text(TEMPLATE, context, "the engagement report") + "\n"


def describe_period(period: st.Period, words: Speaker) -> str:
    """The period as a reader of ``words``' language reads it ("9. Nov. 2026 bis ...")."""
    first = period.first_day()
    return words.gettext(
        "%(start)s to %(end)s (%(zone)s)",
        start=words.gettext("the beginning") if first is None else words.date(first),
        end=words.date(period.last_day()),
        zone=period.zone.key,
    )
