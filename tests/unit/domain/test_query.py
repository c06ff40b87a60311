"""Cursors, limits and pages."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler_domain import MAX_LIMIT, Page, check_limit, decode_cursor, encode_cursor
from scheduler_errors import InvalidInput


@given(st.integers(min_value=0, max_value=2**63))
def test_cursors_round_trip(last_id: int) -> None:
    cursor = encode_cursor(last_id)

    assert decode_cursor(cursor) == last_id
    assert "=" not in cursor


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None) is None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "garbage",
    ["", "!!!", "é", "12", b64("id:"), b64("id:abc"), b64("page:3"), b64("3"), "%%%%", "a"],
)
def test_cursors_this_api_did_not_hand_out_are_rejected(garbage: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(garbage)

    assert caught.value.errors[0].field == "cursor"


@pytest.mark.parametrize("limit", [1, 50, MAX_LIMIT])
def test_limits_in_range_are_kept(limit: int) -> None:
    assert check_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1])
def test_limits_out_of_range_are_rejected(limit: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_limit(limit)

    assert caught.value.errors[0].field == "limit"


def test_a_page_with_an_extra_row_has_a_next_cursor() -> None:
    page = Page.of([1, 2, 3], limit=2, last_id=2)

    assert list(page.items) == [1, 2]
    assert page.next_cursor is not None
    assert decode_cursor(page.next_cursor) == 2


def test_the_last_page_has_no_next_cursor() -> None:
    page = Page.of([1, 2], limit=2, last_id=None)

    assert (list(page.items), page.next_cursor) == ([1, 2], None)
