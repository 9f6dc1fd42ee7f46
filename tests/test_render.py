"""Rendering: templates, fallbacks, user overrides, text fidelity, StrictUndefined."""

from __future__ import annotations

from pathlib import Path

import pytest

from commsbot.channels.outbox import OutboxChannel, OutboxSettings
from commsbot.content.places import Places
from commsbot.errors import TemplateError
from commsbot.render import Renderer
from commsbot.store import Store
from commsbot.store import content as q
from commsbot.text import graphemes


def outbox(limit: int = 500, **kw: object) -> OutboxChannel:
    return OutboxChannel(OutboxSettings(enabled=True, max_length=limit, **kw))  # type: ignore[arg-type]


def render(store: Store, slug: str, channel: OutboxChannel, renderer: Renderer | None = None):  # type: ignore[no-untyped-def]
    from commsbot.posting.pipeline import render_item

    item = q.get_item(store, "practice", slug)
    assert item is not None
    return render_item(renderer or Renderer(), Places.load(store), channel, "practice", item)


def test_practice_post_has_title_city_theme_summary_hashtags_and_link(sample_store: Store) -> None:
    out = render(sample_store, "amsterdam-creative-matchmaking-desk", outbox())
    assert out.text == (
        "Creative Industries Matchmaking Desk (Amsterdam, Brokerage)\n\n"
        'Example practice: a matchmaking desk runs monthly sessions in the "<co>lab" format, '
        "where one company brings a real problem & three creative teams pitch approaches to it "
        "in front of the room.\n\n"
        "#Brokerage #Matchmaking #CoCreation #PitchSessions #OpenInnovation\n\n"
        "https://cross-innovation.example/practices/amsterdam-creative-matchmaking-desk"
    )
    assert out.length == graphemes(out.text)
    assert not out.truncated


def test_long_post_is_cut_in_its_text_never_its_link(sample_store: Store) -> None:
    out = render(sample_store, "amsterdam-creative-matchmaking-desk", outbox(limit=140))
    link = "https://cross-innovation.example/practices/amsterdam-creative-matchmaking-desk"
    assert out.truncated
    assert out.text.endswith("…\n\n" + link)
    assert graphemes(out.text) <= 140


def test_utm_tags_are_added_per_channel(sample_store: Store) -> None:
    out = render(
        sample_store,
        "amsterdam-creative-matchmaking-desk",
        outbox(utm={"utm_source": "outbox", "utm_medium": "social"}),
    )
    assert out.text.endswith(
        "amsterdam-creative-matchmaking-desk?utm_source=outbox&utm_medium=social"
    )


def test_user_template_overrides_packaged_and_falls_back(
    sample_store: Store, tmp_path: Path
) -> None:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "practice.j2").write_text(
        "{{ item.title | upper }} {{ city.local_name }}"
    )
    out = render(sample_store, "plzen-creative-voucher", outbox(), Renderer(tmp_path))
    assert out.text.startswith("PLZEŇ CREATIVE VOUCHER FOR ENGINEERING FIRMS Plzeň\n\n")
    renderer = Renderer(tmp_path)
    assert renderer.template(outbox(), "event").name == "event.j2"  # packaged fallback


def test_missing_field_is_an_error_naming_template_and_item(
    sample_store: Store, tmp_path: Path
) -> None:
    (tmp_path / "practice.j2").write_text("{{ item.titel }}")
    with pytest.raises(
        TemplateError, match=r"template practice\.j2 for practice 'plzen-creative-voucher': .*titel"
    ):
        render(sample_store, "plzen-creative-voucher", outbox(), Renderer(tmp_path))


def test_broken_template_syntax_names_file_and_line(sample_store: Store, tmp_path: Path) -> None:
    (tmp_path / "practice.j2").write_text("ok\n{% if %}\n")
    with pytest.raises(TemplateError, match=r"template practice\.j2, line 2"):
        render(sample_store, "plzen-creative-voucher", outbox(), Renderer(tmp_path))


def test_telegram_templates_escape_html(sample_store: Store) -> None:
    renderer = Renderer()
    template = renderer.environment("html").get_template("telegram/practice.j2")
    lookup = Places.load(sample_store)
    item = q.get_item(sample_store, "practice", "amsterdam-creative-matchmaking-desk")
    assert item is not None
    html = template.render(lookup.context(item))
    assert "&#34;&lt;co&gt;lab&#34;" in html and "problem &amp; three" in html
    assert "<b>Creative Industries Matchmaking Desk</b>" in html


def test_templates_check_passes_on_the_packaged_templates(invoke) -> None:  # type: ignore[no-untyped-def]
    result = invoke("templates", "check")
    assert result.exit_code == 0, result.output
    assert "templates ok:" in result.output


def test_templates_check_names_template_and_item(invoke, config_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = config_path.parent / "mytemplates"
    (folder / "outbox").mkdir(parents=True)
    (folder / "outbox" / "event.j2").write_text("{{ item.venue }}")
    (folder / "outbox" / "newsletter.j2").write_text("{{ item.summary }} {{ item.summary }} " * 3)
    config_path.write_text(
        config_path.read_text() + '\n[service]\ntemplates = "mytemplates"\n'
        if "[service]" not in config_path.read_text()
        else config_path.read_text().replace("[service]", '[service]\ntemplates = "mytemplates"')
    )
    result = invoke("templates", "check", "--channel", "outbox")
    assert result.exit_code == 1
    assert (
        "outbox: template outbox/event.j2 for event 'kick-off-meeting-birmingham'" in result.output
    )
    assert "venue" in result.output
    assert (
        "template outbox/newsletter.j2 for sample newsletter 'newsletter-1': too long"
        in result.output
    )


def test_item_version_changes_with_every_field_but_the_timestamps(sample_store: Store) -> None:
    from commsbot.render import item_version

    item = q.get_item(sample_store, "practice", "amsterdam-creative-matchmaking-desk")
    assert item is not None
    version = item_version(item)
    assert item_version(dict(item)) == version
    for key, value in item.items():
        changed = {**item, key: "2031-01-01T00:00:00Z" if key.endswith("_at") else f"{value}!"}
        if key in ("created_at", "updated_at"):
            assert item_version(changed) == version, key
        else:
            assert item_version(changed) != version, key
    # A list's member and a value's type count too: the post would read differently.
    assert item_version({**item, "tags": [*item["tags"], "more"]}) != version
    assert item_version({**item, "example": not item["example"]}) != version


@pytest.mark.parametrize(
    "source",
    [
        "{{ item.title }} {{ item.tags | join(',') }}",
        "{{ item.items is callable }} {{ item.get('title') }}",  # a dict's own attributes
        "{{ item.titel }}",  # missing: StrictUndefined names it
        "{{ item.title.nope }}",  # a str's missing attribute
        "{{ other.title }}",  # not a plain dict: read as Jinja2 reads it
    ],
)
def test_template_reads_a_dict_field_as_jinja2_does(source: str) -> None:
    # The renderer's environment looks a plain dict's fields up directly: every result and
    # every error message must be the one a plain Jinja2 environment gives.
    import collections

    import jinja2

    item = {"title": "Voucher", "tags": ["a", "b"], "items": "not the method"}
    values = {"item": item, "other": collections.UserDict(item)}

    def outcome(env: jinja2.Environment) -> str:
        try:
            return env.from_string(source).render(values)
        except jinja2.UndefinedError as exc:
            return f"error: {exc.message}"

    plain = jinja2.Environment(undefined=jinja2.StrictUndefined)
    ours = Renderer().environment("plain")
    assert outcome(ours) == outcome(plain)
