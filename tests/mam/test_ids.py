"""Archive ids at time boundaries: a time range of the archive is a range of ids."""

from __future__ import annotations

from component.ids import new_id, timestamp_of
from plugins.mam.service import lower_id, upper_id


def test_time_bounds_match_the_ids():
    ts = 1_712_345_678.123
    exact = new_id(ts)
    assert lower_id(ts) <= exact < upper_id(ts)
    assert exact < lower_id(ts + 0.001) and upper_id(ts - 0.001) <= exact
    assert abs(timestamp_of(lower_id(ts)) - ts) < 1e-6
    assert lower_id(-5) == "0" * 26


def test_ids_given_the_same_millisecond_keep_increasing():
    # Rooms stamp ids with the time they also record (new_id(now)); a burst in one
    # millisecond must still page in the order it was broadcast.
    ts = 1_712_345_678.5
    made = [new_id(ts) for _ in range(50)]
    assert made == sorted(made) and len(set(made)) == 50
