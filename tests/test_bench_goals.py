"""How the benchmark shows a ratio goal's measured value."""

from __future__ import annotations

import math

import pytest

from bench.goals import at_least


@pytest.mark.parametrize(
    ("value", "met", "shown"),
    [
        (1.0387, True, "1.04x"),
        (0.95, True, "0.95x"),
        (0.9501, True, "0.95x"),  # a met goal may round down to its threshold
        (0.9468, False, "0.947x"),  # a miss never rounds up to it
        (0.94996, False, "0.94996x"),
        (math.nextafter(0.95, 0), False, "0.9499999999999998x"),  # the closest miss there is
        (0.8374, False, "0.84x"),  # against 0.95: two decimals already show the miss
    ],
)
def test_a_ratio_goal_is_shown_on_the_side_of_the_threshold_it_is_on(
    value: float, met: bool, shown: str
) -> None:
    goal = at_least("≥ 0.95x same user's first page", value, 0.95, baseline=0.3)

    assert (goal.met, goal.shown) == (met, shown)
    assert goal.value == value
    assert goal.ceiling_units == pytest.approx(0.285)
