"""Group `judge` (stage judge): LIMIT's model-based paradigm."""

from __future__ import annotations

from pydantic import Field, model_validator

from doit_study.params.base import Group, Strict


class EndpointParams(Strict):
    url: str = Field(min_length=1)  # an OpenAI-compatible base URL, e.g. http://host:8000/v1
    model: str = Field(min_length=1)  # the served model's name
    api_key_env: str | None  # the environment variable that holds the key (never the key itself)


class JudgeBootstrap(Strict):
    replicates: int = Field(ge=10)
    seed: int
    level: float = Field(gt=0, lt=1)


class JudgeParams(Group):
    """Group `judge` (stage judge): LIMIT's model-based paradigm."""

    GROUP = "judge"

    settings: list[str]  # the settings whose open-ended answers are judged ([]: none)
    local_model: str | None  # a local judge: the folder of this foundation model (foundation.models)
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
        if self.settings and (self.local_model is None) == (self.endpoint is None):
            raise ValueError("local_model, endpoint: set exactly one judge")
        return self
