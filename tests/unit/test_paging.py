"""Pagination rules shared by the ECS and ECR list operations."""

from __future__ import annotations

import pytest

from dockyard.core.errors import InvalidParameterError
from dockyard.services.paging import decode_token, encode_token, page_size


def test_page_tokens_round_trip_and_reject_garbage() -> None:
    assert decode_token(encode_token(("app", 3)), (str, int)) == ["app", 3]
    assert decode_token(None, (str,)) is None
    for garbage in ("not-a-token", encode_token(("app",)), encode_token((3, "app")), encode_token((True, 1))):
        with pytest.raises(InvalidParameterError):
            decode_token(garbage, (str, int))


def test_a_token_that_does_not_decode_carries_the_callers_message() -> None:
    with pytest.raises(InvalidParameterError, match=r"^Bad token$"):
        decode_token("%%%", (str,), message="Bad token")


@pytest.mark.parametrize("requested", [0, -1, 101])
def test_max_results_outside_the_range_is_refused(requested: int) -> None:
    with pytest.raises(InvalidParameterError, match="between 1 and 100"):
        page_size(requested, default=100, maximum=100)


def test_max_results_absent_means_the_default() -> None:
    assert page_size(None, default=20, maximum=100) == 20
    assert page_size(7, default=20, maximum=100) == 7
