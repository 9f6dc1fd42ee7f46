"""The exceptions commsbot raises for problems a user can fix.

The CLI turns every ``CommsbotError`` into one clean message; anything else is a bug.
"""


class CommsbotError(Exception):
    """Base class: the message says what is wrong and where."""


class ConfigError(CommsbotError):
    """A configuration file or environment variable is wrong or missing."""


class StoreError(CommsbotError):
    """The store cannot be opened, migrated or is locked by another process."""


class ContentError(CommsbotError):
    """A content item, import file or queue entry is invalid or not found."""


class TemplateError(CommsbotError):
    """A template is missing, broken, or renders too long for its channel."""


class ChannelError(CommsbotError):
    """A channel could not do what was asked; ``retryable`` says if trying later may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
