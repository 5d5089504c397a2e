"""A whole params file (params.yaml or a profile): every group, and the checks across groups.

`python -m doit_study check` runs them; the README's run command does before `dvc repro`, and the
dispatch driver before it submits anything. A stage validates only the groups it reads
(`params.base.read_group`), so these checks live here, where every group is known.
"""

from __future__ import annotations

import os

from pydantic import ValidationError, model_validator

from doit_study.params.analysis import AnalysisParams
from doit_study.params.annotate import AnnotateParams
from doit_study.params.base import Strict, read_params_file, validation_error
from doit_study.params.benchmark import BenchmarkParams
from doit_study.params.data import DataParams
from doit_study.params.dispatch import DispatchParams
from doit_study.params.evaluate import EvaluateParams
from doit_study.params.expand import ExpandParams, subset_names
from doit_study.params.foundation import FoundationParams
from doit_study.params.judge import JudgeParams
from doit_study.params.mixes import MixesParams
from doit_study.params.prompting import PromptingParams
from doit_study.params.tokenizer import TokenizerParams
from doit_study.params.train import SettingSpec, TrainParams


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
    mixes: MixesParams
    prompting: PromptingParams
    judge: JudgeParams
    dispatch: DispatchParams

    @model_validator(mode="after")
    def _groups_agree(self) -> StudyParams:
        for name, spec in self.train.settings.items():
            if spec.size not in self.foundation.sizes:
                raise ValueError(f"train.settings.{name}.size: {spec.size!r} is not one of foundation.sizes")
        if self.evaluate.min_epoch > self.train.optim.epochs:
            raise ValueError("evaluate.min_epoch: larger than train.optim.epochs, so no checkpoint qualifies")
        if self.mixes.size not in self.foundation.sizes:
            raise ValueError(f"mixes.size: {self.mixes.size!r} is not one of foundation.sizes")
        planned = subset_names(self.expand)
        for name, spec in self.train.settings.items():
            if spec.subset not in planned:
                raise ValueError(f"train.settings.{name}.subset: expand writes no subset {spec.subset!r}")
        baseline = SettingSpec(size=self.mixes.size, subset=self.mixes.baseline, seed=self.mixes.seed)
        if baseline not in self.train.settings.values():
            raise ValueError(
                f"mixes.baseline: no setting in train.settings trains {baseline.subset} at {baseline.size}"
                f" with seed {baseline.seed} (mixes.seed)"
            )
        _designs_agree(self)
        return self


def _designs_agree(params: StudyParams) -> None:
    """The FLAN and LIMIT params against the rest (docs/designs.md)."""
    judge = params.judge
    for name in [*judge.settings, *([judge.compare_with] if judge.compare_with else [])]:
        if name not in params.train.settings:
            raise ValueError(f"judge: {name!r} is not a setting of train.settings")
    if judge.local_size is not None and judge.local_size not in params.foundation.sizes:
        raise ValueError(f"judge.local_size: {judge.local_size!r} is not one of foundation.sizes")
    if judge.settings and params.evaluate.open_answers is None:
        raise ValueError("evaluate.open_answers: required to judge settings (judge.settings)")
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
