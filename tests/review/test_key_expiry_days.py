"""The days a key review shows agree with its flag: a key flagged `expiring` (within the window)
never reads as far as an unflagged one, so "in 30 days" cannot be both flagged and not. Days left
round up while the key works (12 hours left is "in 1 day", never "in 0 days"), and down once it
has expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hsmsync.core.key_review import Expiry, expiry_of
from hsmsync.core.state import KeyProperties

EXPIRES = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
KEY = KeyProperties(name="k", expires_on=EXPIRES)
OFFSETS = [timedelta(days=d, seconds=s) for d in (0, 1, 29, 30, 31) for s in (-1, 0, 1, 43200) if d or s >= 0]


@pytest.mark.parametrize("left", OFFSETS)
def test_a_flag_and_the_days_shown_agree(left: timedelta) -> None:
    expiry, days = expiry_of(KEY, EXPIRES - left, 30)
    assert days is not None
    if expiry is Expiry.EXPIRING:
        assert 1 <= days <= 30
    elif expiry is Expiry.OK:
        assert days > 30
    else:
        assert expiry is Expiry.EXPIRED and days <= 0


def test_the_window_edge_and_the_last_hours() -> None:
    assert expiry_of(KEY, EXPIRES - timedelta(days=30), 30) == (Expiry.EXPIRING, 30)
    assert expiry_of(KEY, EXPIRES - timedelta(days=30, seconds=1), 30) == (Expiry.OK, 31)
    assert expiry_of(KEY, EXPIRES - timedelta(hours=12), 30) == (Expiry.EXPIRING, 1)
    assert expiry_of(KEY, EXPIRES + timedelta(seconds=1), 30) == (Expiry.EXPIRED, -1)
