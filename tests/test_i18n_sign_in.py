"""Signing in, its refusals and the console's own refusals, in the visitor's language
(#17, #19): over HTTP against the running console on loopback. The CLI's English for the
same messages is kept (tests/test_users_cli.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commsbot.errors import ContentError
from commsbot.i18n import speaker
from commsbot.store import users as users_q
from commsbot.web import auth
from tests.support.web import PASSWORD, Live, csrf_of, sign_in

GERMAN = "de-DE,de;q=0.9,en;q=0.5"


def test_a_german_visitor_is_refused_in_german(live: Live) -> None:
    with live.client() as c:
        c.headers["Accept-Language"] = GERMAN
        wrong = sign_in(c, "ana", "not the password")
        assert wrong.status_code == 401
        assert "Name und Passwort passen nicht zusammen." in wrong.text
        assert "do not match" not in wrong.text

        stale = c.post("/sign-in", data={"name": "ana", "password": PASSWORD, "csrf": "forged"})
        assert stale.status_code == 403
        assert "Dieses Anmeldeformular war abgelaufen." in stale.text

        for _ in range(auth.MAX_FAILURES_PER_USER - 1):
            assert sign_in(c, "ana", "not the password").status_code == 401
        throttled = sign_in(c, "ana")
        assert throttled.status_code == 429
        # Every failure was just now: the window (15 minutes) is all still to wait.
        assert (
            "Zu viele fehlgeschlagene Anmeldungen für diesen Namen oder von dieser Adresse. "
            "Versuchen Sie es in 15 Minuten erneut" in throttled.text
        )
        assert "Too many" not in throttled.text


def test_a_german_user_gets_the_csrf_refusal_and_console_errors_in_german(live: Live) -> None:
    with live.client() as c:
        c.headers["Accept-Language"] = GERMAN
        assert sign_in(c, "ana").status_code == 303
        forged = c.post("/language", data={"csrf": "forged", "language": "de"})
        assert forged.status_code == 403
        assert "<title>Formular abgelaufen" in forged.text
        assert "Dieses Formular wurde nicht von einer Seite dieser Konsole gesendet" in forged.text

        token = csrf_of(c)
        unknown = c.post("/language", data={"csrf": token, "language": "tlh"})
        assert unknown.status_code == 400
        assert "Sprache: unbekannt &#39;tlh&#39; (bekannt: en, nl, it, de," in unknown.text

        missing = c.get("/posts/999999")
        assert missing.status_code == 404 and "Kein solcher Beitrag" in missing.text
        assert "Es gibt keinen Beitrag mit dieser Nummer." in missing.text
        bad_day = c.get("/stats?since=soon")
        assert bad_day.status_code == 400
        assert "since: &#39;soon&#39; ist kein Datum (JJJJ-MM-TT)" in bad_day.text

        c.post("/sign-out", data={"csrf": token})
        signed_out = c.post("/language", data={"csrf": token, "language": "de"})
        assert signed_out.status_code == 403 and "Abgemeldet" in signed_out.text


@pytest.mark.parametrize(
    ("name", "ago", "said"),
    [
        ("ana", timedelta(minutes=14, seconds=30), "Spróbuj ponownie za 1 minutę albo"),
        ("cora", timedelta(minutes=12, seconds=30), "Spróbuj ponownie za 3 minuty albo"),
        ("adam", timedelta(minutes=9, seconds=30), "Spróbuj ponownie za 6 minut albo"),
    ],
)
def test_a_polish_visitor_is_told_the_minutes_in_the_right_form(
    live: Live, name: str, ago: timedelta, said: str
) -> None:
    """The failures happened a while ago: the minutes left need the "one", "few" and
    "many" forms of Polish."""
    when = datetime.now(UTC) - ago
    for _ in range(auth.MAX_FAILURES_PER_USER):
        users_q.add_failure(live.store, name, "127.0.0.2", when)
    with live.client() as c:
        c.headers["Accept-Language"] = "pl"
        throttled = sign_in(c, name)
    assert throttled.status_code == 429
    assert "Zbyt wiele nieudanych logowań dla tej nazwy lub z tego adresu." in throttled.text
    assert said in throttled.text


def test_the_wait_is_until_enough_failures_have_left_the_window(live: Live) -> None:
    """Seven failures of a name: the third oldest leaving the window lets it try again."""
    now = datetime.now(UTC)
    for minutes in (14, 13, 10, 2, 2, 1, 1):
        users_q.add_failure(live.store, "cora", "127.0.0.3", now - timedelta(minutes=minutes))
    with pytest.raises(auth.Throttled) as caught:
        auth.sign_in(live.store, "cora", PASSWORD, "127.0.0.4", now)
    assert caught.value.minutes == 5
    assert str(caught.value.message) == (
        "Too many failed sign-ins for this name or from this address. Try again in 5 minutes, "
        "or ask an admin to set a new password (commsbot users passwd)."
    )


def test_the_users_refusals_stay_english_for_the_cli_and_translate_elsewhere(
    live: Live,
) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ContentError) as short:
        auth.add_user(live.store, "eva", "officer", "short", now)
    assert str(short.value) == "the password needs at least 10 characters"
    assert speaker("cs").say(short.value) == "heslo musí mít alespoň 10 znaků"
    with pytest.raises(ContentError) as role:
        auth.add_user(live.store, "eva", "boss", PASSWORD, now)
    assert str(role.value) == "role 'boss': use one of officer, coordinator, admin"
    assert speaker("lt").say(role.value) == (
        "vaidmuo 'boss': pasirinkite vieną iš officer, coordinator, admin"
    )


def test_the_admins_settings_page_says_empty_values_in_german(live: Live) -> None:
    with live.client() as c:
        c.headers["Accept-Language"] = GERMAN
        assert sign_in(c, "adam").status_code == 303
        page = c.get("/settings")
    assert page.status_code == 200
    assert "(nicht gesetzt)" in page.text and "(keiner)" in page.text
    assert "(not set)" not in page.text and "(none)" not in page.text
