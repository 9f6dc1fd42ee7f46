"""``commsbot web`` (the console alone) and ``commsbot users`` (who may sign in) (#17)."""

from __future__ import annotations

import sys

import click

from commsbot.cli.base import App, echo_table, pass_app
from commsbot.clock import local_text, utcnow

ROLES = ("officer", "coordinator", "admin")


@click.command("web")
@click.option("--host", help="Listen on this address (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [web] port, 8080).")
@click.option(
    "--check", is_flag=True, help="Start, load the sign-in page once, stop: does it serve?"
)
@pass_app
def web(app: App, host: str | None, port: int | None, check: bool) -> None:
    """Serve the web console alone, without the scheduler and the bot (Ctrl-C stops it)."""
    import asyncio
    import dataclasses
    import signal

    from commsbot.web.server import WebServer, announce

    config = app.config
    web_config = dataclasses.replace(
        config.web, host=host or config.web.host, port=config.web.port if port is None else port
    )
    config = dataclasses.replace(config, web=web_config)
    store = app.store

    async def main() -> None:
        server = WebServer(config)
        await server.start()
        if check:
            port = server.port
            try:
                await asyncio.to_thread(_fetch_sign_in, port)
            finally:
                await server.stop()
            click.echo(f"console: serves on {web_config.host}:{port}")
            return
        announce(store, server.url(), utcnow())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()

    asyncio.run(main())


def _fetch_sign_in(port: int) -> None:
    import urllib.request

    from commsbot.errors import CommsbotError

    url = f"http://127.0.0.1:{port}/sign-in"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            status = answer.status
    except OSError as exc:
        raise CommsbotError(f"the console started but {url} did not answer: {exc}") from None
    if status != 200:
        raise CommsbotError(f"the console started but {url} answered {status}")


@click.group()
def users() -> None:
    """Console users: add, list, remove, change passwords."""


def _password(password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The password from stdin, generated, or prompted twice; and whether to show it."""
    from commsbot.web.auth import generate_password

    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin: standard input held no password")
        return line, False
    if generate:
        return generate_password(), True
    return click.prompt("Password", hide_input=True, confirmation_prompt=True), False


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", is_flag=True, help="Make a password and show it once.")
@pass_app
def users_add(app: App, name: str, role: str, password_stdin: bool, generate: bool) -> None:
    """Add a console user: officer (changes), coordinator (reads, stats), admin (users)."""
    from commsbot.web.auth import add_user

    password, show = _password(password_stdin, generate)
    add_user(app.store, name, role, password, utcnow())
    click.echo(f"user {name} added as {role}")
    if show:
        click.echo(f"password (shown once): {password}")


@users.command("list")
@pass_app
def users_list(app: App) -> None:
    """List the console users, their roles and open sessions."""
    from commsbot.web.auth import list_users

    rows = list_users(app.store)
    for r in rows:
        r["created_at"] = local_text(r["created_at"], app.config.zone)
    echo_table(rows, ["name", "role", "created_at", "sessions"])


@users.command("remove")
@click.argument("name")
@pass_app
def users_remove(app: App, name: str) -> None:
    """Remove a user; their sessions end at once."""
    from commsbot.web.auth import remove_user

    remove_user(app.store, name)
    click.echo(f"user {name} removed")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--generate", is_flag=True, help="Make a password and show it once.")
@pass_app
def users_passwd(app: App, name: str, password_stdin: bool, generate: bool) -> None:
    """Set a new password; the user is signed out everywhere."""
    from commsbot.web.auth import set_password

    password, show = _password(password_stdin, generate)
    ended = set_password(app.store, name, password, utcnow())
    click.echo(f"password of {name} changed; {ended} session(s) ended")
    if show:
        click.echo(f"password (shown once): {password}")
