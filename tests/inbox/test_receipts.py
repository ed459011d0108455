"""Delivery status only moves forward: read never goes back to delivered."""

from __future__ import annotations

import pytest

from inbox.conversations import _moves_forward
from inbox.models import MessageStatus as S


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        (S.QUEUED, S.SENT, True),
        (S.SENT, S.DELIVERED, True),
        (S.DELIVERED, S.READ, True),
        (S.SENT, S.READ, True),
        (S.READ, S.DELIVERED, False),
        (S.DELIVERED, S.SENT, False),
        (S.DELIVERED, S.DELIVERED, False),
        (S.SENT, S.FAILED, True),  # an SMS that turned out undeliverable
        (S.DELIVERED, S.FAILED, True),
        (S.READ, S.FAILED, False),
        (S.FAILED, S.DELIVERED, False),
    ],
)
def test_status_order(current: S, new: S, moves: bool) -> None:
    assert _moves_forward(current, new) is moves
