"""Console users, their sessions, one-time sign-in links and failed sign-ins (#17).

Session ids and link tokens are kept as SHA-256 digests: someone who reads the store
cannot take over a live session with what they find there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commsbot.store import Store, from_iso, iso

ROLES = ("officer", "coordinator", "admin")


def add_user(store: Store, name: str, role: str, password_hash: str, now: datetime) -> int:
    with store.write() as conn:
        cur = conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, password_hash, iso(now), iso(now)),
        )
        return int(cur.lastrowid or 0)


def get_user(store: Store, name: str) -> dict[str, Any] | None:
    return store.row("SELECT * FROM users WHERE name = ?", (name,))


def get_user_by_id(store: Store, user_id: int) -> dict[str, Any] | None:
    return store.row("SELECT * FROM users WHERE id = ?", (user_id,))


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user with the number of live sessions; no hashes."""
    return store.rows(
        "SELECT u.id, u.name, u.role, u.created_at, u.updated_at, "
        "(SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS sessions "
        "FROM users u ORDER BY u.name"
    )


def remove_user(store: Store, name: str) -> bool:
    """Delete a user; their sessions and links go with them (ON DELETE CASCADE)."""
    with store.write() as conn:
        return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 1


def set_password_hash(store: Store, user_id: int, password_hash: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
            (password_hash, iso(now), user_id),
        )


# -- sessions ---------------------------------------------------------------------------


def add_session(
    store: Store,
    digest: str,
    user_id: int,
    csrf: str,
    now: datetime,
    expires: datetime,
    address: str,
) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO sessions (digest, user_id, csrf, created_at, seen_at, expires_at, "
            "address) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest, user_id, csrf, iso(now), iso(now), iso(expires), address),
        )


def session_user(store: Store, digest: str, now: datetime) -> dict[str, Any] | None:
    """The session's user (with the session's csrf and expiry), if it has not expired."""
    return store.row(
        "SELECT u.id, u.name, u.role, u.language, s.csrf, s.created_at, s.seen_at "
        "FROM sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.digest = ? AND s.expires_at > ?",
        (digest, iso(now)),
    )


def set_language(store: Store, user_id: int, language: str | None, now: datetime) -> None:
    """The language a console user chose (None: the browser's)."""
    with store.write() as conn:
        conn.execute(
            "UPDATE users SET language = ?, updated_at = ? WHERE id = ?",
            (language, iso(now), user_id),
        )


def touch_session(store: Store, digest: str, now: datetime, expires: datetime) -> None:
    """Slide an idle session's expiry forward."""
    with store.write() as conn:
        conn.execute(
            "UPDATE sessions SET seen_at = ?, expires_at = ? WHERE digest = ?",
            (iso(now), iso(expires), digest),
        )


def end_session(store: Store, digest: str) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM sessions WHERE digest = ?", (digest,))


def end_sessions(store: Store, user_id: int) -> int:
    """Sign a user out everywhere; how many sessions ended."""
    with store.write() as conn:
        return conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,)).rowcount


def purge_expired(store: Store, now: datetime) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (iso(now),))
        conn.execute("DELETE FROM sign_in_links WHERE expires_at <= ?", (iso(now),))


# -- one-time sign-in links -------------------------------------------------------------


def add_link(store: Store, digest: str, user_id: int, expires: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO sign_in_links (digest, user_id, expires_at) VALUES (?, ?, ?)",
            (digest, user_id, iso(expires)),
        )


def take_link(store: Store, digest: str, now: datetime) -> int | None:
    """The user a link signs in, once: the link is deleted as it is used."""
    with store.write() as conn:
        row = conn.execute(
            "SELECT user_id FROM sign_in_links WHERE digest = ? AND expires_at > ?",
            (digest, iso(now)),
        ).fetchone()
        conn.execute("DELETE FROM sign_in_links WHERE digest = ?", (digest,))
    return None if row is None else int(row[0])


# -- throttling -------------------------------------------------------------------------


def add_failure(store: Store, name: str, address: str, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "INSERT INTO sign_in_failures (name, address, at) VALUES (?, ?, ?)",
            (name, address, iso(now)),
        )


def failures_since(store: Store, name: str, address: str, since: datetime) -> tuple[int, int]:
    """Failed sign-ins since ``since``: for this user name, and from this address."""
    stamp = iso(since)
    by_name = store.scalar(
        "SELECT count(*) FROM sign_in_failures WHERE name = ? AND at >= ?", (name, stamp)
    )
    by_address = store.scalar(
        "SELECT count(*) FROM sign_in_failures WHERE address = ? AND at >= ?", (address, stamp)
    )
    return int(by_name), int(by_address)


def failure_at(store: Store, key: str, value: str, since: datetime, n: int) -> datetime:
    """When the ``n``-th (from 0, oldest first) failed sign-in since ``since`` of this
    user name (``key`` "name") or from this address ("address") happened."""
    sql = _FAILURE_AT[key]
    return from_iso(str(store.scalar(sql, (value, iso(since), n))))


_FAILURE_AT = {
    key: f"SELECT at FROM sign_in_failures WHERE {key} = ? AND at >= ? ORDER BY at LIMIT 1 OFFSET ?"
    for key in ("name", "address")
}


def clear_failures(store: Store, name: str, before: datetime) -> None:
    """Forget a user's failures once they signed in; old rows of anyone go too."""
    with store.write() as conn:
        conn.execute("DELETE FROM sign_in_failures WHERE name = ? OR at < ?", (name, iso(before)))
