"""Members given as bytes: UTF-8 is accepted as the same member; anything else is a TypeError
naming the argument, not a UnicodeDecodeError."""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_patterns.leaderboard import Leaderboard


def test_utf8_bytes_are_the_same_member(redis_ready: Any) -> None:
    board = Leaderboard("bytes-members")
    board.set_score(b"ad\xc3\xa9le", 10)  # "adéle"
    assert board.score_of("adéle") == 10
    assert board.rank_of(b"ad\xc3\xa9le") == 1


def test_bytes_that_are_not_utf8_are_a_type_error_naming_member(redis_ready: Any) -> None:
    board = Leaderboard("bytes-members")
    with pytest.raises(TypeError, match="member must be a str, an int or UTF-8 bytes"):
        board.set_score(b"\xff\xfe", 1)
    with pytest.raises(TypeError, match="member"):
        board.score_of(b"\xc3")
    assert board.score_of("x") is None
