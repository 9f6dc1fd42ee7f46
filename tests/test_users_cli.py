"""``commsbot users``, ``commsbot web --check``, and the audit trail in ``queue show`` and
``queue restore`` (#17)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from commsbot.store import Store
from commsbot.store import users as users_q
from commsbot.web import auth
from tests.support.base import Invoke


def test_add_list_passwd_remove(store: Store, invoke: Invoke) -> None:
    added = invoke(
        "users",
        "add",
        "ana",
        "--role",
        "officer",
        "--password-stdin",
        input="correct horse battery\n",
    )
    assert added.exit_code == 0, added.output
    assert "correct horse" not in added.output
    made = invoke("users", "add", "cora", "--role", "coordinator", "--generate")
    shown = re.search(r"password \(shown once\): (\S+)", made.output)
    assert made.exit_code == 0 and shown
    assert auth.sign_in(store, "cora", shown.group(1), "127.0.0.1", datetime.now(UTC))
    prompted = invoke(
        "users", "add", "adam", "--role", "admin", input="a long passphrase\na long passphrase\n"
    )
    assert prompted.exit_code == 0, prompted.output
    listing = invoke("users", "list").output
    assert all(n in listing for n in ("ana", "cora", "adam")) and "argon2" not in listing
    # A new password ends every session of the user.
    auth.open_session(store, 1, "127.0.0.1", datetime.now(UTC), auth.THROTTLE_WINDOW)
    changed = invoke("users", "passwd", "ana", "--password-stdin", input="another fine password\n")
    assert "1 session(s) ended" in changed.output
    assert auth.sign_in(store, "ana", "another fine password", "127.0.0.1", datetime.now(UTC))
    assert invoke("users", "remove", "cora").exit_code == 0
    assert users_q.get_user(store, "cora") is None


def test_user_mistakes_are_one_line_errors(store: Store, invoke: Invoke) -> None:
    invoke(
        "users",
        "add",
        "ana",
        "--role",
        "officer",
        "--password-stdin",
        input="correct horse battery\n",
    )
    add = ("users", "add")
    stdin = ("--role", "officer", "--password-stdin")
    cases = [
        ((*add, "ANA", *stdin), "correct horse battery\n", "user ANA exists already"),
        ((*add, "bo", *stdin), "short\n", "at least 10 characters"),
        ((*add, "bo b", *stdin), "correct horse battery\n", "without spaces"),
        ((*add, "bo", "--role", "boss"), None, "'boss' is not one of"),
        ((*add, "bo", *stdin), "", "held no password"),
        (("users", "remove", "nobody"), None, "no user named 'nobody'"),
        (("users", "passwd", "nobody", "--generate"), None, "no user named 'nobody'"),
    ]
    for args, given, message in cases:
        result = invoke(*args, input=given)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_queue_show_prints_the_history_and_restore_undoes_a_cancel(
    sample_store: Store, invoke: Invoke
) -> None:
    invoke("queue", "add", "Call for vouchers", "--at", "2999-01-01 09:00")
    invoke("queue", "edit", "1", "--at", "2999-02-01 09:00")
    invoke("queue", "cancel", "1")
    restored = invoke("queue", "restore", "1")
    assert (
        restored.exit_code == 0
        and "restored: queued for outbox at 2999-02-01 09:00" in restored.output
    )
    again = invoke("queue", "restore", "1")
    assert again.exit_code != 0 and "only a post that is cancelled can be restored" in again.output
    history = invoke("queue", "show", "1").output.split("history:", 1)[1]
    steps = [line.split(maxsplit=3)[3] for line in history.strip().splitlines()]
    assert steps == [
        "created by cli (announcement)",
        "rescheduled by cli (to 2999-02-01T08:00:00Z)",
        "cancelled by cli",
        "restored by cli",
    ]


def test_web_check_serves_once_and_names_what_is_wrong(store: Store, invoke: Invoke) -> None:
    served = invoke("web", "--check", "--port", "0")
    assert served.exit_code == 0 and re.search(r"serves on 127\.0\.0\.1:\d+", served.output)
    bad = invoke("web", "--check", "--host", "no such host", "--port", "0")
    assert bad.exit_code == 1 and "cannot listen on no such host:0" in bad.output
    assert "Traceback" not in bad.output
