"""What every stage entry point shares: its command line, declared once as the names and paths it
takes (all required; dvc.yaml writes every one), and the bad-input exit path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from doit_study.core.files import DataError

EXIT_BAD_INPUT = 2


def stage_args(
    description: str,
    argv: list[str] | None,
    names: Mapping[str, str] = {},
    paths: Mapping[str, str] = {},
) -> argparse.Namespace:
    """`--params` (default params.yaml) and one required `--<key>` per entry of `names` (strings:
    a setting, a size) and of `paths` (Path values); each value is the help text. Underscores in a
    key are dashes on the command line (`raw_manifest`: `--raw-manifest`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    for kind, declared in ((str, names), (Path, paths)):
        for key, help_text in declared.items():
            parser.add_argument(f"--{key.replace('_', '-')}", type=kind, required=True, help=help_text)
    return parser.parse_args(argv)


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage; bad input ends it with one clear line on stderr and exit code 2."""
    try:
        main(argv)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
