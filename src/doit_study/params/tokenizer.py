"""Group `tokenizer` (stage tokenizer): the offline foundation models' byte-level BPE."""

from __future__ import annotations

from pydantic import Field

from doit_study.params.base import Group


class TokenizerParams(Group):
    """Group `tokenizer`: the offline foundation models' byte-level BPE."""

    GROUP = "tokenizer"

    vocab_size: int = Field(ge=300)
