"""The analysis tests' shared synthetic study, analysed once per session (tests/analysis/synthetic.py)."""

import pytest

from doit_study.analysis.scaling import sensitivities
from tests.analysis.synthetic import TRUTHS, analysis_params, synthetic_study


@pytest.fixture(scope="session")
def study():
    """(grid, items) of the synthetic study: three sizes, two foundations each, three volumes."""
    return synthetic_study(TRUTHS, items=100)


@pytest.fixture(scope="session")
def params():
    return analysis_params(resampling={"replicates": 10, "seed": 0, "level": 0.95})


@pytest.fixture(scope="session")
def analysed(study, params):
    """`sensitivities` on the synthetic study: {sets, correction}. Read it, never change it."""
    grid, items = study
    return sensitivities(grid, items, params)
