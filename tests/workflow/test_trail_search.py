"""Parsing what a reviewer types into the trail's search box: any text is an entry number,
a report id prefix, or a clear refusal (never another error)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caselens.workflow.trail_search import (
    MAX_QUERY_LENGTH,
    MIN_REPORT_PREFIX,
    SearchError,
    parse_query,
)


@given(st.text(max_size=120))
def test_any_text_parses_or_is_refused_with_words(typed):
    try:
        query = parse_query(typed)
    except SearchError as exc:
        assert str(exc).startswith("Search:")
        return
    assert query.entry is not None or query.report_prefix is not None
    if query.report_prefix is not None:
        assert MIN_REPORT_PREFIX <= len(query.report_prefix) <= 64
        assert set(query.report_prefix) <= set("0123456789abcdef")


@given(st.integers(min_value=1, max_value=10**17))
def test_a_number_is_an_entry(number):
    assert parse_query(str(number)).entry == number
    assert parse_query(f"#{number}").entry == number
    assert parse_query(f"#{number}").report_prefix is None  # '#' means an entry


@given(st.text(alphabet="0123456789abcdef", min_size=MIN_REPORT_PREFIX, max_size=64))
def test_a_hex_prefix_is_a_report_id_in_any_case(prefix):
    query = parse_query(prefix.upper() + "…")
    assert query.report_prefix == prefix or query.entry == int(prefix)


@pytest.mark.parametrize(
    "typed", ["abc", "1234567g", "-5", "1.5", "x" * (MAX_QUERY_LENGTH + 1), "'; --"]
)
def test_what_is_neither_is_refused(typed):
    with pytest.raises(SearchError):
        parse_query(typed)
