"""Params of the FLAN and LIMIT designs on the same stages (docs/designs.md): task-count subsets,
chain-of-thought targets and prompting, style mixes, and the model judge. Frozen models; unknown keys
are errors. An empty list of factor values writes no subset of that kind (the DoIT profiles)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _increasing(values: list, what: str, low: float, high: float | None = None) -> list:
    """Factor values: strictly increasing, each at least `low` (and at most `high`)."""
    if any(v < low or (high is not None and v > high) for v in values):
        raise ValueError(f"{what}: each in [{low}, {high if high is not None else 'inf'}]")
    if values != sorted(set(values)):
        raise ValueError(f"{what}: strictly increasing")
    return values


class TaskCountParams(_Strict):
    """FLAN: subsets over the first k tasks of a seeded task order (`tasks-k<k>`), nested in k."""

    counts: list[int]  # k values; [] writes none
    per_task: int | None = Field(ge=1)  # items per task: the total grows with k
    total: int | None = Field(ge=1)  # or a fixed total shared by the k tasks
    held_out: int = Field(ge=0)  # the last tasks of the order: never trained, evaluated as unseen

    @field_validator("counts")
    @classmethod
    def _counts(cls, value: list[int]) -> list[int]:
        return _increasing(value, "counts", 1)

    @model_validator(mode="after")
    def _one_size_rule(self) -> TaskCountParams:
        if self.counts and (self.per_task is None) == (self.total is None):
            raise ValueError("per_task, total: set exactly one (a growing or a fixed total)")
        return self


class CotParams(_Strict):
    """FLAN: every task-count subset at several shares of chain-of-thought targets (`-cot<percent>`):
    of the items whose answer carries a reasoning chain, that share keeps the chain (with the
    `prompting.cot` instruction), the rest is trained on the final answer alone (`prompting.direct`)."""

    ratios: list[float]  # [] leaves the targets as the source wrote them

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return _increasing(value, "ratios", 0, 1)


class StyleParams(_Strict):
    """LIMIT: exact-match ("textbook") abilities against open-ended data (`style-o<percent>-n<total>`)."""

    open: list[str]  # the open-ended pools: abilities, or `general` (the synthetic pool)
    ratios: list[float]  # the open-ended share of each subset
    totals: list[int]  # subset sizes (nested: a larger total holds the smaller one's items)

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, value: list[float]) -> list[float]:
        return _increasing(value, "ratios", 0, 1)

    @field_validator("totals")
    @classmethod
    def _totals(cls, value: list[int]) -> list[int]:
        return _increasing(value, "totals", 1)


PROMPTINGS = ("direct", "cot")  # FLAN's two ways of asking a chain item (PromptingParams' fields)


class PromptingParams(_Strict):
    """Group `prompting` (stages expand and evaluate): the instructions appended to a chain item's
    question, for an answer-only target and direct prompting, or for a chain of thought."""

    direct: str = Field(min_length=1)
    cot: str = Field(min_length=1)


class OpenAnswers(_Strict):
    """Free answers to the open-ended test items (answer kind `open`), for the judge."""

    length_factor: float = Field(gt=0)  # a budget of this many times the reference's tokens
    max_new_tokens: int = Field(ge=1)  # and at most this many


class EndpointParams(_Strict):
    url: str = Field(min_length=1)  # an OpenAI-compatible base URL, e.g. http://host:8000/v1
    model: str = Field(min_length=1)  # the served model's name
    api_key_env: str | None  # the environment variable that holds the key (never the key itself)


class JudgeBootstrap(_Strict):
    replicates: int = Field(ge=10)
    seed: int
    level: float = Field(gt=0, lt=1)


class JudgeParams(_Strict):
    """Group `judge` (stage judge): LIMIT's model-based paradigm."""

    settings: list[str]  # the settings whose open-ended answers are judged ([]: none)
    local_size: str | None  # a local judge: the model folder of this foundation size
    endpoint: EndpointParams | None  # or an OpenAI-compatible endpoint
    compare_with: str | None  # pairwise against this setting's answers; null: against the reference
    max_tokens: int = Field(ge=1)  # of each verdict
    batch: int = Field(ge=1)  # local judge: prompts per generation batch
    retries: int = Field(ge=0)  # endpoint: retries with back-off (the openai client's)
    timeout_s: float = Field(gt=0)
    trust_remote_code: bool  # local judge: off unless a user turns it on
    bootstrap: JudgeBootstrap  # the win rate's interval

    @model_validator(mode="after")
    def _one_judge(self) -> JudgeParams:
        if self.settings and (self.local_size is None) == (self.endpoint is None):
            raise ValueError("local_size, endpoint: set exactly one judge")
        return self
