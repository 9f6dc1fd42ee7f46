"""Content commands: practices, events, newsletters; import/export; preview; template checks."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from commsbot.cli.base import (
    FILE_PATH,
    POSITIVE_INT,
    App,
    channel_option,
    config_option,
    echo_table,
    format_option,
    format_param,
    pass_app,
    progress_bar,
)
from commsbot.clock import utcnow
from commsbot.content.types import TRANSLATED_FIELDS, TYPES, ContentType
from commsbot.errors import ContentError, TemplateError
from commsbot.i18n import LANGUAGES


def _field_options(ctype: ContentType) -> list[click.Option]:
    options = []
    for f in ctype.fields:
        flag = "--" + f.name.replace("_", "-")
        help_text = f.help or (f"one of {', '.join(f.choices)}" if f.choices else "")
        if f.kind == "list":
            options.append(
                click.Option(
                    [flag, f.name],
                    multiple=True,
                    help=f"{help_text} (repeat, or ';'-separated)".strip(),
                )
            )
        elif f.kind == "bool":
            options.append(
                click.Option([flag + "/--not-" + f.name, f.name], default=None, help=help_text)
            )
        else:
            options.append(click.Option([flag, f.name], help=help_text or None))
    options.append(
        click.Option(
            ["--from-file", "from_file"],
            type=FILE_PATH,
            help="Read the fields from a TOML or JSON file; flags override it.",
        )
    )
    return options


def _collect(ctype: ContentType, values: dict[str, Any]) -> dict[str, Any]:
    from commsbot.content.items import read_item_file

    data: dict[str, Any] = {}
    if values.get("from_file"):
        data.update(read_item_file(values["from_file"]))
    for f in ctype.fields:
        value = values.get(f.name)
        if f.kind == "list":
            if value:
                data[f.name] = [p.strip() for v in value for p in v.split(";") if p.strip()]
        elif value is not None:
            data[f.name] = value
    return data


def _show(item: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(item, ensure_ascii=False, indent=2, default=str))
        return
    width = max(len(k) for k in item)
    for key, value in item.items():
        if isinstance(value, list):
            value = ", ".join(value)
        click.echo(f"{key.ljust(width)}  {value if value is not None else ''}")


def _command(
    name: str, callback: Any, params: Sequence[click.Parameter], help_text: str
) -> click.Command:
    return config_option(
        click.Command(name, callback=callback, params=list(params), help=help_text)
    )


def _content_group(ctype: ContentType) -> click.Group:
    group = click.Group(ctype.plural, help=f"Add, list, show, edit and remove {ctype.plural}.")

    def add(**values: Any) -> None:
        from commsbot.content.items import add_items

        app = click.get_current_context().ensure_object(App)
        data = _collect(ctype, values)
        where = str(values["from_file"]) if values.get("from_file") else ctype.name
        added, _ = add_items(app.store, ctype, [(where, data)], utcnow())
        if not added:
            click.echo("nothing added")
            return
        from commsbot.content.items import newest_slug

        # The slug a title gave is the one the officer types next (show, preview, edit).
        click.echo(f"added {ctype.name} {data.get('slug') or newest_slug(app.store, ctype.name)}")

    group.add_command(_command("add", add, _field_options(ctype), f"Add a {ctype.name}."))

    def list_items(**values: Any) -> None:
        from commsbot.content.items import list_items as matching

        app = click.get_current_context().ensure_object(App)
        filters = {
            k: v for k, v in values.items() if k in ("city", "theme", "kind", "status") and v
        }
        items = matching(
            app.store, ctype, filters, values["limit"], search=values.get("search") or None
        )
        fmt = values["fmt"]
        if fmt == "json":
            click.echo(json.dumps(items, ensure_ascii=False, indent=2, default=str))
        else:
            cols = ["slug", "title"] + [
                c for c in ("city", "theme", "kind", "start_date", "published") if c in ctype.names
            ]
            echo_table(items, [*cols, "status"])

    list_params: list[click.Parameter] = [
        click.Option(["--status"], type=click.Choice(["published", "draft"])),
        click.Option(["--limit"], type=POSITIVE_INT, default=None, help="At most this many."),
        format_param("table", "json"),
    ]
    for key in ("city", "theme", "kind"):
        if key in ctype.names:
            list_params.insert(0, click.Option([f"--{key}"], help=f"Only this {key}."))
    list_params.insert(
        0,
        click.Option(
            ["--search"],
            help="Only those that mention all these words, in any of their languages"
            + (
                "; a city's name in any language (Pilsen, Warschau) names the city."
                if "city" in ctype.names
                else "."
            ),
        ),
    )
    group.add_command(_command("list", list_items, list_params, f"List {ctype.plural}."))

    def show(slug: str, fmt: str) -> None:
        from commsbot.content.items import require_item
        from commsbot.content.translations import translations_of

        app = click.get_current_context().ensure_object(App)
        item = require_item(app.store, ctype, slug)
        translations = translations_of(app.store, ctype, item["id"])
        original = item.get("language", "en")
        if fmt == "json":
            item["translations"] = translations
        else:
            # Which languages a reader can have it in; drafts marked as the samples they are.
            item["languages"] = [f"{original} (original)"] + [
                f"{lang} (sample)" if fields["sample"] else lang
                for lang, fields in translations.items()
            ]
        _show(item, fmt)

    show_params: list[click.Parameter] = [
        click.Argument(["slug"]),
        format_param("text", "json"),
    ]
    group.add_command(
        _command("show", show, show_params, f"Show one {ctype.name}, with the languages it has.")
    )

    def translate(slug: str, language: str, remove: bool, **fields: str | None) -> None:
        from commsbot.content.translations import remove_translation
        from commsbot.content.translations import translate as add_translation

        app = click.get_current_context().ensure_object(App)
        given = {k: v for k, v in fields.items() if v is not None}
        if remove:
            if given:
                raise click.UsageError("--remove takes no field flags")
            remove_translation(app.store, ctype, slug, language)
            click.echo(f"removed the {language} translation of {ctype.name} {slug}")
            return
        if not given:
            raise click.UsageError(
                "nothing to translate: give at least one of "
                + ", ".join("--" + f.replace("_", "-") for f in TRANSLATED_FIELDS[ctype.name])
            )
        found = add_translation(app.store, ctype, slug, language, given, utcnow())
        click.echo(
            f"{ctype.name} {slug} in {language}: {', '.join(sorted(given))} "
            f"(languages: {', '.join(found)})"
        )

    translate_params: list[click.Parameter] = [
        click.Argument(["slug"]),
        click.Option(
            ["--lang", "language"],
            required=True,
            type=click.Choice(LANGUAGES, case_sensitive=False),
            help="The translation's language.",
        ),
        click.Option(["--remove"], is_flag=True, help="Remove this language's translation."),
        *(
            click.Option(["--" + f.replace("_", "-"), f], help=f"The {f.replace('_', ' ')}.")
            for f in TRANSLATED_FIELDS[ctype.name]
        ),
    ]
    group.add_command(
        _command(
            "translate",
            translate,
            translate_params,
            f"Add or change a {ctype.name}'s translation into a language (fields not given "
            "keep their translation, or show the original).",
        )
    )

    def edit(item_slug: str, **values: Any) -> None:
        from commsbot.content.items import edit_item

        app = click.get_current_context().ensure_object(App)
        changes = _collect(ctype, values)
        if not changes:
            raise click.UsageError("nothing to change: give at least one field flag or --from-file")
        edit_item(app.store, ctype, item_slug, changes, utcnow())
        click.echo(f"updated {ctype.name} {item_slug}: {', '.join(sorted(changes))}")

    group.add_command(
        _command(
            "edit",
            edit,
            [click.Argument(["item_slug"], metavar="SLUG"), *_field_options(ctype)],
            f"Change fields of a {ctype.name}. Posts already sent are not sent again.",
        )
    )

    def remove(slug: str, yes: bool) -> None:
        from commsbot.content.items import remove_item, require_item

        app = click.get_current_context().ensure_object(App)
        item = require_item(app.store, ctype, slug)
        if not yes:
            click.confirm(f"Remove {ctype.name} {slug!r} ({item['title']})?", abort=True)
        cancelled = remove_item(app.store, ctype, item["id"], utcnow())
        click.echo(
            f"removed {ctype.name} {slug}"
            + (f"; {cancelled} unsent post(s) cancelled" if cancelled else "")
        )

    remove_params: list[click.Parameter] = [
        click.Argument(["slug"]),
        click.Option(["--yes", "-y"], is_flag=True, help="Do not ask."),
    ]
    group.add_command(
        _command(
            "remove",
            remove,
            remove_params,
            f"Remove a {ctype.name}; its unsent posts are cancelled, sent ones stay on record.",
        )
    )
    return group


# One group per content type, by its plural (``commsbot practices``).
CONTENT_GROUPS = {t.plural: _content_group(t) for t in TYPES.values() if t.cli}


def __getattr__(name: str) -> click.Group:
    """A content type's group as an attribute (``commsbot.cli.content_cmds:practices``),
    so the CLI's table of commands names it like any other command."""
    try:
        return CONTENT_GROUPS[name]
    except KeyError:
        raise AttributeError(name) from None


@click.group()
def content() -> None:
    """Import and export content in bulk (JSON or CSV)."""


@content.command("import")
@click.argument("file", type=FILE_PATH)
@click.option("--type", "type_name", help="Content type of a CSV file or JSON list.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and list the others.")
@pass_app
def content_import(app: App, file: Path, type_name: str | None, skip_invalid: bool) -> None:
    """Import FILE.json or FILE.csv: every row or, unless --skip-invalid, none."""
    from commsbot.content.items import import_file, parse_import

    rows = sum(len(group) for group in parse_import(file, type_name).values())
    with progress_bar(rows, "importing") as bar:
        added, skipped = import_file(
            app.store,
            file,
            utcnow(),
            type_name=type_name,
            skip_invalid=skip_invalid,
            progress=bar.update,
        )
    for reason in skipped:
        click.echo(f"skipped: {reason}", err=True)
    parts = [f"{n} {t}" for t, n in added.items()] or ["nothing"]
    click.echo(
        f"imported {', '.join(parts)} from {file}"
        + (f"; skipped {len(skipped)}" if skipped else "")
    )


@content.command("export")
@format_option("json", "csv")
@click.option("--type", "type_name", help="Only this content type (required for CSV).")
@click.option(
    "-o",
    "--output",
    type=FILE_PATH,
    help="File to write (default: stdout).",
)
@pass_app
def content_export(app: App, fmt: str, type_name: str | None, output: Path | None) -> None:
    """Export content; importing the result into an empty store rebuilds it."""
    from commsbot.content.items import export_csv, export_data
    from commsbot.content.types import content_type

    if fmt == "csv":
        if not type_name:
            raise click.UsageError(
                "--format csv needs --type (practices, events, newsletters, news)"
            )
        text = export_csv(app.store, type_name)
    else:
        types = [content_type(type_name).name] if type_name else None
        text = json.dumps(export_data(app.store, types), ensure_ascii=False, indent=2) + "\n"
    if output and str(output) != "-":  # "-" is stdout, as for most tools
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ContentError(f"{output}: cannot write the export: {exc.strerror}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


@click.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("slug")
@channel_option(help="Account to render for (default: every enabled account taking the item).")
@pass_app
def preview(app: App, type_name: str, slug: str, channel_name: str | None) -> None:
    """Print exactly what each account would receive for an item, with its length, and
    which accounts take it."""
    from commsbot.content.items import require_item
    from commsbot.content.places import Places
    from commsbot.content.types import content_type
    from commsbot.posting.accounts import refusal
    from commsbot.posting.pipeline import make_channels, render_item
    from commsbot.posting.select import feed_url
    from commsbot.render import Renderer

    ctype = content_type(type_name)
    item = require_item(app.store, ctype, slug)
    names = [channel_name] if channel_name else None
    channels = {n: c for n, c in make_channels(app.config, names).items() if c.takes_posts}
    source = feed_url(app.store, ctype.name, item["id"])
    refused = {n: refusal(c.settings, ctype.name, item, source) for n, c in channels.items()}
    takers = [n for n, why in refused.items() if why is None]
    click.echo(f"--- taken by: {', '.join(takers) or 'no enabled account'}", err=True)
    renderer, lookup = Renderer(app.config.service.templates), Places.load(app.store)
    for name, channel in channels.items():
        why = refused[name]
        if why is not None and not channel_name:
            click.echo(f"--- {name}: not taken ({why})", err=True)
            continue
        out = render_item(renderer, lookup, channel, ctype.name, item)
        if len(channels) > 1:
            click.echo(f"=== {name}")
        click.echo(out.text)
        for part in out.thread:
            click.echo("---")
            click.echo(part)
        note = " (truncated to fit)" if out.truncated else ""
        if why is not None:
            note += f"; its filters do not take this item ({why})"
        click.echo(f"--- {name}: {out.length}/{out.limit} characters{note}", err=True)


@click.group()
def templates() -> None:
    """Check the post templates."""


@templates.command("check")
@channel_option(
    "channel_names",
    many=True,
    help="Only these channels (default: every configured account, and each kind none uses).",
)
@pass_app
def templates_check(app: App, channel_names: tuple[str, ...]) -> None:
    """Render every template against every sample item (and the store's); report failures."""
    from commsbot.channels import channel_names as known
    from commsbot.service.templates_check import check_templates

    for name in channel_names:
        if name not in known():
            raise click.BadParameter(
                f"unknown channel {name!r} (known: {', '.join(known())})", param_hint="--channel"
            )
    problems, checked = check_templates(app.config, app.store, list(channel_names) or None)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise TemplateError(f"{len(problems)} problem(s) in {checked} renderings")
    click.echo(f"templates ok: {checked} renderings checked")
