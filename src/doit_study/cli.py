"""What every stage entry point shares: argument parsing and the bad-input exit path."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from doit_study.io import DataError

EXIT_BAD_INPUT = 2


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    return parser


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run a stage; bad input ends it with one clear line on stderr and exit code 2."""
    try:
        main(argv)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
