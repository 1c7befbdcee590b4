"""contracts.recursion: the recursion limit put back, and JSON measured before it is parsed."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, strategies as st

from contracts.recursion import (
    MAX_JSON_DEPTH,
    MAX_JSON_ITEMS,
    SANE_RECURSION_LIMIT,
    json_depth_exceeds,
    json_refusal,
    restore_recursion_limit,
)


@pytest.fixture
def recursion_limit() -> Iterator[None]:
    before = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(before)


def test_a_limit_raised_by_a_library_is_put_back_to_pythons_default(
    recursion_limit: None,
) -> None:
    import py_ecc  # noqa: F401 - what raised it to 100,000 when first imported

    sys.setrecursionlimit(100_000)
    restore_recursion_limit()
    assert sys.getrecursionlimit() == SANE_RECURSION_LIMIT == 1000


def test_a_limit_set_lower_on_purpose_is_left_alone(recursion_limit: None) -> None:
    sys.setrecursionlimit(500)
    restore_recursion_limit()
    assert sys.getrecursionlimit() == 500


def test_with_the_limit_restored_deep_json_raises_instead_of_crashing(
    recursion_limit: None,
) -> None:
    restore_recursion_limit()
    with pytest.raises(RecursionError):
        json.loads("[" * 100_000 + "]" * 100_000)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(item) for item in value.values()), default=0)
    return 0


def items(value: Any) -> int:
    """What json_refusal counts: each container once, and each element after its first."""
    if isinstance(value, list):
        return 1 + max(0, len(value) - 1) + sum(items(item) for item in value)
    if isinstance(value, dict):
        return 1 + max(0, len(value) - 1) + sum(items(item) for item in value.values())
    return 0


# Strings full of what the scan looks for: brackets, commas, quotes and backslashes.
tricky_text = st.text(alphabet='[]{},"\\ab\u00e9\u4e2d', max_size=8)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=40,
)


@given(document=documents, limit=st.integers(0, 12), ascii_only=st.booleans())
def test_the_byte_scan_agrees_with_the_parsed_document(
    document: Any, limit: int, ascii_only: bool
) -> None:
    data = json.dumps(document, ensure_ascii=ascii_only).encode()
    assert json_depth_exceeds(data, limit) is (depth(document) > limit)
    refused = json_refusal(data, max_depth=limit, max_items=10**6)
    assert (refused is not None) is (depth(document) > limit)
    counted = json_refusal(data, max_depth=10**3, max_items=limit)
    assert (counted is not None) is (items(document) > limit)


def test_brackets_inside_strings_do_not_count() -> None:
    assert not json_depth_exceeds(json.dumps(["[" * 1000, '\\"[' * 500]).encode())


def test_the_issues_bodies_are_too_deep() -> None:
    assert json_depth_exceeds(b"[" * 70_000 + b"]" * 70_000)
    assert json_depth_exceeds(b'{"text": ' + b"[" * 90_000 + b"]" * 90_000 + b"}")
    assert json_depth_exceeds(b"[[]" * 1000)  # no long run of openers, still 1,001 deep


def test_the_limit_is_inclusive() -> None:
    exactly = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_refusal(exactly) is None
    assert json_refusal(b"[" + exactly + b"]") == (
        "nests arrays and objects more than 64 levels deep"
    )


def test_too_many_items_are_refused_whatever_the_depth() -> None:
    flat = b"[" + b"{}," * MAX_JSON_ITEMS + b"{}]"
    assert json_refusal(flat) == "has more than 100,000 items (array elements and object members)"
    # Commas inside a string are text, not items.
    assert json_refusal(json.dumps({"text": "a," * MAX_JSON_ITEMS}).encode()) is None


def test_bytes_that_are_not_json_get_an_answer_too() -> None:
    assert not json_depth_exceeds(b"\xff\xfe" + b'"' * 10_001)
    assert json_depth_exceeds(b"[" * 65 + b'"unterminated')
    assert not json_depth_exceeds(b"]" * 100 + b"[" * 10)
