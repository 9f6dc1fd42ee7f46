"""The ``commsbot`` command line. Each module holds the commands of one area; the group
in ``base`` lists them and imports a module only when one of its commands runs."""

from commsbot.cli.base import cli


def main() -> None:
    """Console entry point."""
    cli(prog_name="commsbot")


__all__ = ["cli", "main"]
