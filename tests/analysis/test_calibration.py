"""Calibration by simulation (docs/analysis.md, "Calibration"): studies with a known truth on the
default study's grid (three model sizes, two foundations each, four data volumes, 100 test items),
analysed with the study's own intervals. A 95% interval must hold the true slope in 95% of the
studies, on each axis: model size (between foundations) and data volume (within foundations), with
and without an effect, on a continuous score and on 0/1 accuracy.

The simulated coverage is a binomial share, so its tolerance follows from the number of studies: the
fast test (300 studies a case) accepts 0.95 +- 3.5 standard errors (+-0.044); the slow one (2000
studies a case) the required [0.93, 0.97] (+-4.1 standard errors). A z interval (1.96) in place of
Student's t would cover about 0.88 with 4 degrees of freedom and 0.89 with 5, and fail both."""

import math

import numpy as np
import pytest

from doit_study.analysis.calibration import Truth, coverage

LOG_SIZES = list(np.log([320_000, 1_430_000, 3_920_000]))  # the default study's sizes
LOG_VOLUMES = list(np.log([40, 160, 640, 2560]))  # 4, 16, 64, 256 items per ability x 10 abilities
FOUNDATIONS, ITEMS, LEVEL = 2, 100, 0.95

EFFECT = Truth(
    size_slope=0.05,
    data_slope=0.03,
    foundation_sd=0.02,
    foundation_slope_sd=0.01,
    run_sd=0.01,
    item_sd=0.1,
    noise_sd=0.3,
    level=0.4,
)
NO_EFFECT = Truth(**(EFFECT.__dict__ | {"size_slope": 0.0, "data_slope": 0.0}))
CASES = {  # name: (truth, binary, seed); a seed per case, so the cases are independent draws
    "effect, continuous": (EFFECT, False, 1),
    "no effect, continuous": (NO_EFFECT, False, 2),
    "effect, accuracy": (EFFECT, True, 3),
}


def _coverage(case: str, studies: int) -> dict[str, dict]:
    truth, binary, seed = CASES[case]
    return coverage(truth, LOG_SIZES, LOG_VOLUMES, FOUNDATIONS, ITEMS, binary, studies, LEVEL, seed)


def _check(found: dict[str, dict], low: float, high: float, truth: Truth) -> None:
    for axis in ("param", "data"):
        assert low <= found[axis]["coverage"] <= high, (axis, found[axis])
        if truth.size_slope == truth.data_slope == 0:  # no effect: a false alarm is a miss of 0
            assert found[axis]["excludes_zero"] == pytest.approx(1 - found[axis]["coverage"])


@pytest.mark.parametrize("case", list(CASES))
def test_intervals_hold_the_true_slope_at_their_level_on_each_axis(case):
    studies = 300
    tolerance = 3.5 * math.sqrt(LEVEL * (1 - LEVEL) / studies)
    found = _coverage(case, studies)
    _check(found, LEVEL - tolerance, LEVEL + tolerance, CASES[case][0])
    assert all(found[axis]["studies"] == studies for axis in found)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_intervals_cover_within_two_points_of_their_level_over_2000_studies(case):
    found = _coverage(case, 2000)
    _check(found, 0.93, 0.97, CASES[case][0])


def test_an_effect_is_told_from_noise_and_more_foundations_narrow_the_interval():
    """Power and width: with the true slopes above, most studies' intervals exclude zero on both
    axes, and three foundations per size give narrower intervals than two."""
    two = _coverage("effect, continuous", 100)
    three = coverage(EFFECT, LOG_SIZES, LOG_VOLUMES, 3, ITEMS, False, 100, LEVEL, 1)
    for axis in ("param", "data"):
        assert two[axis]["excludes_zero"] > 0.8
        assert three[axis]["mean_width"] < two[axis]["mean_width"]
