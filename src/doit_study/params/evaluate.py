"""Group `evaluate` (stages evaluate, evaluate_base, and train with keep-best): scoring every
checkpoint, selecting the best, benchmarks, FLAN's promptings and LIMIT's open answers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from doit_study.params.base import Group, Strict


class OpenAnswers(Strict):
    """Free answers to the open-ended test items (answer kind `open`), for the judge."""

    length_factor: float = Field(gt=0)  # a budget of this many times the reference's tokens
    max_new_tokens: int = Field(ge=1)  # and at most this many


class GenerationBudget(Strict):
    """The least number of new tokens per answer kind (exact-match items); raised from the data
    by `evaluate.gold_length_quantile`."""

    letter: int = Field(ge=1)
    multi_letter: int = Field(ge=1)
    true_false: int = Field(ge=1)
    fill: int = Field(ge=1)
    math: int = Field(ge=1)


class EvaluateParams(Group):
    """Group `evaluate`: scoring every checkpoint, selecting the best, benchmarks."""

    GROUP = "evaluate"

    min_epoch: int = Field(ge=1)  # the best checkpoint is chosen at or after this epoch
    valid_per_ability: int | None = Field(ge=1)  # valid items scored per epoch; null: all
    generation_batch: int = Field(ge=1)
    nll_token_budget: int = Field(ge=16)  # padded tokens per perplexity batch
    benchmark_batch: int = Field(ge=1)
    shots: list[int]
    max_new_tokens: GenerationBudget
    # a kind's budget holds at least this share of its gold answers (null: max_new_tokens only)
    gold_length_quantile: float | None = Field(gt=0, le=1)
    choice_parse: Literal["text", "logits", "both"]  # letters and true/false (docs/evaluation.md)
    min_new_tokens: int = Field(ge=0)  # stop tokens are suppressed until an answer has this many tokens
    dtype: Literal["float32", "bfloat16", "float16"]  # of the weights while scoring
    device_map: Literal["auto"] | None  # auto: accelerate spreads a model over every GPU
    # chain items also scored with prompting.direct and prompting.cot appended (FLAN's two promptings)
    cot_prompting: bool
    open_answers: OpenAnswers | None  # free answers to open-ended test items, for the judge (LIMIT)
