"""Who may do what in the console: passwords, sessions, one-time links, throttling, roles.

Passwords are hashed with argon2id at OWASP's recommended minimum (19 MiB, two passes,
one lane): RFC 9106's 64 MiB four-lane profile, argon2-cffi's default, takes most of a
second of both cores of a small server that also runs the service. Session ids, CSRF
tokens and link tokens are 32 random bytes; the store keeps only the digests of session
ids and link tokens.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from commsbot.errors import N_, NP_, ContentError, Message
from commsbot.store import Store, from_iso
from commsbot.store import users as users_q

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES = users_q.ROLES
# What each role may change; every role may read every page.
WRITE = {"officer"}
ADMIN = {"admin"}
# Failed sign-ins allowed within the window, per user name and per address.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
THROTTLE_WINDOW = timedelta(minutes=15)
LINK_LIFETIME = timedelta(minutes=30)
# The user a one-time link from ``commsbot run`` signs in on a fresh store.
FIRST_RUN_USER = "first-run"
MIN_PASSWORD = 10


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    csrf: str = ""
    language: str | None = None  # chosen in the console; None: the browser's

    @property
    def can_write(self) -> bool:
        return self.role in WRITE

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ContentError(
            NP_(
                "the password needs at least %(num)d character",
                "the password needs at least %(num)d characters",
                MIN_PASSWORD,
            )
        )
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Not a hash, so no password matches it: the first-run user signs in by link only.
NO_PASSWORD = "!link-only"
_dummy: list[str] = []


def _waste_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown name takes as long as a known one."""
    if not _dummy:
        _dummy.append(_hasher().hash(new_token()))
    verify_password(_dummy[0], password)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def generate_password() -> str:
    """A password to show once: 20 characters from a URL-safe alphabet (~120 bits)."""
    return secrets.token_urlsafe(15)


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise ContentError(
            N_("user name %(name)s: 1-64 printable characters without spaces"), name=repr(name)
        )
    return name


def add_user(store: Store, name: str, role: str, password: str, now: datetime) -> int:
    name = check_name(name)
    if role not in ROLES:
        raise ContentError(
            N_("role %(role)s: use one of %(roles)s"), role=repr(role), roles=", ".join(ROLES)
        )
    if users_q.get_user(store, name) is not None:
        raise ContentError(
            N_("user %(name)s exists already (users passwd changes the password)"), name=name
        )
    return users_q.add_user(store, name, role, hash_password(password), now)


def require_user(store: Store, name: str) -> dict[str, object]:
    user = users_q.get_user(store, name)
    if user is None:
        raise ContentError(N_("no user named %(name)s (see commsbot users list)"), name=repr(name))
    return user


def set_language(store: Store, user_id: int, language: str | None, now: datetime) -> None:
    """A user's console language (None: the browser's)."""
    users_q.set_language(store, user_id, language, now)


def end_session(store: Store, token: str) -> None:
    """Sign out: the session of this cookie's token ends."""
    users_q.end_session(store, digest(token))


def end_sessions(store: Store, user_id: int) -> int:
    """Sign out everywhere: every session of the user ends; how many did."""
    return users_q.end_sessions(store, user_id)


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every console user with their role and open sessions."""
    return users_q.list_users(store)


def remove_user(store: Store, name: str) -> None:
    """Remove a user; their sessions end with them."""
    require_user(store, name)
    users_q.remove_user(store, name)


def set_password(store: Store, name: str, password: str, now: datetime) -> int:
    """A new password; every session of the user ends. Returns how many did."""
    user = require_user(store, name)
    user_id = int(str(user["id"]))
    users_q.set_password_hash(store, user_id, hash_password(password), now)
    return users_q.end_sessions(store, user_id)


class Throttled(Exception):
    """Too many failed sign-ins for this name or from this address; its Message says in
    how many minutes the next try is allowed (``minutes``)."""

    def __init__(self, minutes: int) -> None:
        super().__init__(
            NP_(
                "Too many failed sign-ins for this name or from this address. Try again in "
                "%(num)d minute, or ask an admin to set a new password (commsbot users passwd).",
                "Too many failed sign-ins for this name or from this address. Try again in "
                "%(num)d minutes, or ask an admin to set a new password (commsbot users passwd).",
                minutes,
            )
        )
        self.minutes = minutes

    @property
    def message(self) -> Message:
        return self.args[0]  # type: ignore[no-any-return]


def sign_in(store: Store, name: str, password: str, address: str, now: datetime) -> User | None:
    """The user when the password is right; None when not. Raises Throttled first when
    the name or the address has failed too often within the window."""
    since = now - THROTTLE_WINDOW
    by_name, by_address = users_q.failures_since(store, name, address, since)
    if by_name >= MAX_FAILURES_PER_USER or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise Throttled(_minutes_to_wait(store, name, address, by_name, by_address, now))
    row = users_q.get_user(store, name)
    if row is None or not verify_password(str(row["password_hash"]), password):
        if row is None:
            _waste_time(password)
        users_q.add_failure(store, name, address, now)
        return None
    users_q.clear_failures(store, name, since)
    return User(int(row["id"]), str(row["name"]), str(row["role"]))


def _minutes_to_wait(
    store: Store, name: str, address: str, by_name: int, by_address: int, now: datetime
) -> int:
    """Whole minutes (at least one) until enough failures have left the window that the
    name and the address may try again."""
    since = now - THROTTLE_WINDOW
    opens = now
    for key, count, limit in (
        ("name", by_name, MAX_FAILURES_PER_USER),
        ("address", by_address, MAX_FAILURES_PER_ADDRESS),
    ):
        if count >= limit:
            value = name if key == "name" else address
            oldest = users_q.failure_at(store, key, value, since, count - limit)
            opens = max(opens, oldest + THROTTLE_WINDOW)
    return max(1, math.ceil((opens - now).total_seconds() / 60))


def open_session(
    store: Store, user_id: int, address: str, now: datetime, idle: timedelta
) -> tuple[str, str]:
    """A new session: (the cookie's token, the CSRF token)."""
    token, csrf = new_token(), new_token()
    users_q.purge_expired(store, now)
    users_q.add_session(store, digest(token), user_id, csrf, now, now + idle, address)
    return token, csrf


def session(
    store: Store, token: str, now: datetime, idle: timedelta, longest: timedelta
) -> User | None:
    """The signed-in user of a session cookie, sliding its idle expiry; None when the
    session is unknown, revoked or expired."""
    key = digest(token)
    found = users_q.session_user(store, key, now)
    if found is None:
        return None
    if now - from_iso(found["created_at"]) > longest:
        users_q.end_session(store, key)
        return None
    # Touched at most once a minute: reading a page is not a write each time.
    if now - from_iso(found["seen_at"]) > timedelta(minutes=1):
        users_q.touch_session(store, key, now, now + idle)
    return User(found["id"], found["name"], found["role"], found["csrf"], found["language"])


def first_run_link(store: Store, now: datetime) -> str | None:
    """A one-time sign-in token while no user has a password (a fresh store), for the
    first-run officer; None once real users exist."""
    users = users_q.list_users(store)
    if any(u["name"] != FIRST_RUN_USER for u in users):
        return None
    row = users_q.get_user(store, FIRST_RUN_USER)
    user_id = (
        int(row["id"])
        if row
        else users_q.add_user(store, FIRST_RUN_USER, "officer", NO_PASSWORD, now)
    )
    token = new_token()
    users_q.add_link(store, digest(token), user_id, now + LINK_LIFETIME)
    return token


def use_link(store: Store, token: str, now: datetime) -> int | None:
    return users_q.take_link(store, digest(token), now)
