"""Group `prompting` (stages expand and evaluate): FLAN's two ways of asking a chain item."""

from __future__ import annotations

from pydantic import Field

from doit_study.params.base import Group


class PromptingParams(Group):
    """Group `prompting` (stages expand and evaluate): the instructions appended to a chain item's
    question, for an answer-only target and direct prompting, or for a chain of thought."""

    GROUP = "prompting"

    # the fields are FLAN's promptings, core.schema.PROMPTINGS

    direct: str = Field(min_length=1)
    cot: str = Field(min_length=1)
