"""Suppression order and CSV cells of intake.reports.tables, without a database."""

from __future__ import annotations

import pytest

from intake.reports.tables import Row, _suppressed_rows, csv_cell


def test_suppressed_rows_are_ordered_by_name_so_their_sizes_stay_hidden() -> None:
    rows = _suppressed_rows([("Zimbabwe", 4), ("Argentina", 1), ("Brazil", 9), ("Chile", 0)])
    assert rows == [Row("Brazil", 9), Row("Argentina", "<5"), Row("Zimbabwe", "<5")]
    with_zeros = _suppressed_rows(
        [("Zimbabwe", 4), ("Chile", 0), ("Brazil", 5), ("Aruba", 0)], True
    )
    assert with_zeros == [Row("Brazil", 5), Row("Zimbabwe", "<5"), Row("Aruba", 0), Row("Chile", 0)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+41 22 917 1234", "'+41 22 917 1234"),
        ("-1.5", "'-1.5"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("<5", "<5"),
        ("Alpha = Beta", "Alpha = Beta"),
        (12, "12"),
        (None, ""),
        ("", ""),
    ],
)
def test_csv_cell(value: object, expected: str) -> None:
    assert csv_cell(value) == expected
