"""A whole params file (params.yaml or a profile): every group, and the checks across groups.

`python -m doit_study check` runs them; the README's run command does before `dvc repro`, and the
dispatch driver before it submits anything. A stage validates only the groups it reads
(`params.base.read_group`), so these checks live here, where every group is known.
"""

from __future__ import annotations

import os

from pydantic import ValidationError, model_validator

from doit_study.core.schema import data_seed_name, split_data_seed
from doit_study.params.analysis import AnalysisParams
from doit_study.params.annotate import AnnotateParams
from doit_study.params.base import Strict, read_params_file, validation_error
from doit_study.params.benchmark import BenchmarkParams
from doit_study.params.data import DataParams
from doit_study.params.dispatch import DispatchParams
from doit_study.params.evaluate import EvaluateParams
from doit_study.params.expand import ExpandParams, subset_names
from doit_study.params.forecast import ForecastParams
from doit_study.params.foundation import FoundationParams
from doit_study.params.judge import JudgeParams
from doit_study.params.mixes import MixesParams
from doit_study.params.prompting import PromptingParams
from doit_study.params.tokenizer import TokenizerParams
from doit_study.params.train import TrainParams


class StudyParams(Strict):
    """A whole params file, in params-file order."""

    data: DataParams
    annotate: AnnotateParams
    expand: ExpandParams
    tokenizer: TokenizerParams
    foundation: FoundationParams
    train: TrainParams
    benchmark: BenchmarkParams
    evaluate: EvaluateParams
    analysis: AnalysisParams
    forecast: ForecastParams
    mixes: MixesParams
    prompting: PromptingParams
    judge: JudgeParams
    dispatch: DispatchParams

    @model_validator(mode="after")
    def _groups_agree(self) -> StudyParams:
        models = self.foundation.models
        for name, spec in self.train.settings.items():
            if spec.foundation not in models:
                raise ValueError(
                    f"train.settings.{name}.foundation: {spec.foundation!r} is not one of foundation.models"
                )
        if self.evaluate.min_epoch > self.train.optim.epochs:
            raise ValueError("evaluate.min_epoch: larger than train.optim.epochs, so no checkpoint qualifies")
        planned = subset_names(self.expand)
        for name, spec in self.train.settings.items():
            if spec.subset not in planned:
                raise ValueError(f"train.settings.{name}.subset: expand writes no subset {spec.subset!r}")
        _mixes_agree(self)
        _designs_agree(self)
        return self


def _mixes_agree(params: StudyParams) -> None:
    """Every mix run has a foundation, a data seed expand draws, and its Baseline replicate: the
    setting that trains the Baseline's subset of that data seed on the same foundation and seed."""
    trained = {(s.foundation, s.subset, s.seed) for s in params.train.settings.values()}
    for name, run in params.mixes.settings.items():
        if run.foundation not in params.foundation.models:
            raise ValueError(
                f"mixes.settings.{name}.foundation: {run.foundation!r} is not one of foundation.models"
            )
        data_seed = split_data_seed(run.subset)[1]
        if data_seed not in params.expand.data_seeds:
            raise ValueError(
                f"mixes.settings.{name}.subset: data seed {data_seed} is not in expand.data_seeds"
            )
        baseline = data_seed_name(params.mixes.baseline, data_seed)
        if (run.foundation, baseline, run.seed) not in trained:
            raise ValueError(
                f"mixes.settings.{name}: no setting in train.settings trains the Baseline {baseline} on "
                f"{run.foundation} with seed {run.seed}"
            )


def _designs_agree(params: StudyParams) -> None:
    """The FLAN and LIMIT params against the rest (docs/designs.md)."""
    judge = params.judge
    for name in [*judge.settings, *([judge.compare_with] if judge.compare_with else [])]:
        if name not in params.train.settings:
            raise ValueError(f"judge: {name!r} is not a setting of train.settings")
    if judge.local_model is not None and judge.local_model not in params.foundation.models:
        raise ValueError(f"judge.local_model: {judge.local_model!r} is not one of foundation.models")
    if judge.settings and params.evaluate.open_answers is None:
        raise ValueError("evaluate.open_answers: required to judge settings (judge.settings)")
    forecast = params.forecast
    if forecast.size is not None and forecast.size not in params.foundation.sizes:
        raise ValueError(f"forecast.size: {forecast.size!r} is not one of foundation.sizes")
    if forecast.n_per_ability is not None and forecast.n_per_ability not in params.expand.n_per_ability:
        raise ValueError(f"forecast.n_per_ability: {forecast.n_per_ability} is not in expand.n_per_ability")
    if params.analysis.design == "flan" and not params.expand.task_counts.counts:
        raise ValueError("analysis.design: flan fits task-count subsets; expand.task_counts.counts is empty")
    if params.analysis.design == "limit" and not params.expand.style.ratios:
        raise ValueError("analysis.design: limit fits style subsets; expand.style.ratios is empty")


# group name -> its model, in params-file order
GROUPS = {name: field.annotation for name, field in StudyParams.model_fields.items()}


def load_params(path: os.PathLike | str) -> StudyParams:
    """Every group of a params file and the checks across them."""
    document = read_params_file(path)
    try:
        return StudyParams.model_validate(document)
    except ValidationError as error:
        raise validation_error(path, error) from None
