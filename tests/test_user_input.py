"""Numbers and text people type, read one way (#13): ASCII digits only, SQLite's range."""

from __future__ import annotations

import pytest

from commsbot.text.user_input import SQLITE_MAX, row_id, whole_number, without_controls


@pytest.mark.parametrize(
    ("text", "signed", "number"),
    [
        ("42", False, 42),
        (" 42 ", False, 42),
        ("-42", True, -42),
        ("-42", False, None),
        ("+7", True, 7),
        ("²", False, None),  # str.isdigit() says yes, int() says no
        ("٣", False, None),  # str.isdigit() says yes, int() reads 3
        ("4²", False, None),
        ("", False, None),
        ("1e3", False, None),
        ("1_000", False, None),  # int() accepts underscores
        ("9" * 5000, False, None),  # past what int() reads
        ("9" * 30, False, int("9" * 30)),
    ],
)
def test_whole_numbers_are_ascii_digits(text: str, signed: bool, number: int | None) -> None:
    assert whole_number(text, signed=signed) == number


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), (str(SQLITE_MAX), SQLITE_MAX), (str(SQLITE_MAX + 1), None), ("0", None)],
)
def test_row_ids_fit_sqlite(text: str, number: int | None) -> None:
    assert row_id(text) == number


def test_control_characters_become_spaces_and_line_breaks_stay() -> None:
    assert without_controls("a\x00b\x1b[31mc\u2028d\te\nf\x7f") == "a b [31mc d\te\nf "
