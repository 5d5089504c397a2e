"""What every params group shares: strict frozen models (unknown keys are errors), reading one group
of a params file with errors that name the file, line and field, and the checks of names that
become file and stage names.

A stage reads only the groups it uses (`read_group`), so editing one group's checks reruns only the
stages that read that group. The checks across groups are in `params.study`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from doit_study.core.files import DataError, first_validation_error
from doit_study.core.schema import ABILITIES


class Strict(BaseModel):
    """A frozen model that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Group(Strict):
    """A params group: one top-level key of the params file (`GROUP`)."""

    GROUP: ClassVar[str]


G = TypeVar("G", bound=Group)


def check_names(mapping: dict, pattern: str, what: str, kind: str) -> dict:
    """Names that become file and DVC stage names must match `pattern`."""
    for name in mapping:
        if not re.fullmatch(pattern, name):
            raise ValueError(f"{what}: {name!r} is not a valid {kind}")
    return mapping


def check_abilities(mapping: dict[str, int], what: str) -> dict[str, int]:
    unknown = sorted(set(mapping) - set(ABILITIES))
    if unknown:
        raise ValueError(f"{what}: unknown ability {unknown[0]!r}; expected one of {', '.join(ABILITIES)}")
    return mapping


def increasing(values: list, what: str, low: float, high: float | None = None) -> list:
    """Factor values: strictly increasing, each at least `low` (and at most `high`)."""
    if any(v < low or (high is not None and v > high) for v in values):
        raise ValueError(f"{what}: each in [{low}, {high if high is not None else 'inf'}]")
    if values != sorted(set(values)):
        raise ValueError(f"{what}: strictly increasing")
    return values


def read_params_file(path: os.PathLike | str) -> dict:
    """The params file as a mapping of groups; bad bytes or YAML are a DataError with the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(path, f"bytes are not UTF-8 ({error.reason})") from None
    except OSError as error:
        raise DataError(path, f"cannot read the params file ({error.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DataError(
            path, f"malformed YAML: {getattr(error, 'problem', error)}", mark.line + 1 if mark else None
        ) from None
    if not isinstance(document, dict):
        raise DataError(path, "expected a mapping of params groups")
    return document


def line_of(path: os.PathLike | str, dotted: str) -> int | None:
    """The line of a dotted key (list indices skipped), found by indentation: each key is looked
    for inside its parent's block only, so `mixes.baseline` is never `expand.mixes.baseline`. The
    deepest key found when a later one is not (a key that is missing, or written inline)."""
    keys = [key for key in dotted.split(".") if not key.isdigit()]
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    content = [k for k, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]

    def indent(k: int) -> int:
        return len(lines[k]) - len(lines[k].lstrip())

    block, found = content, None  # the lines of the current mapping, its keys at the first's indent
    for key in keys:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*:")
        here = next((k for k in block if indent(k) == indent(block[0]) and pattern.match(lines[k])), None)
        if here is None:
            break
        found = here
        after = [k for k in content if k > here]
        ends = next((n for n, k in enumerate(after) if indent(k) <= indent(here)), len(after))
        block = after[:ends]  # the key's own mapping: what is indented below it
        if not block:
            break
    return found + 1 if found is not None else None


def validation_error(path: os.PathLike | str, error: ValidationError, prefix: str = "") -> DataError:
    """A pydantic error as a DataError naming the file, the line of the field and the field."""
    field, message = first_validation_error(error)
    if prefix:
        field = prefix if field == "<line>" else f"{prefix}.{field}"
    return DataError(path, message, line_of(path, field), field)


def read_group(path: os.PathLike | str, model: type[G]) -> G:
    """One group of a params file, validated on its own."""
    document = read_params_file(path)
    if model.GROUP not in document:
        raise DataError(path, f"no {model.GROUP!r} group", None, model.GROUP)
    try:
        return model.model_validate(document[model.GROUP])
    except ValidationError as error:
        raise validation_error(path, error, model.GROUP) from None
