"""`python -m doit_study lineage <checkpoint>`: where a checkpoint comes from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from doit_study.tracking import lineage


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m doit_study")
    commands = parser.add_subparsers(dest="command", required=True)
    trace = commands.add_parser("lineage", help="trace a checkpoint back to its data, base model and run")
    trace.add_argument("checkpoint", type=Path, help="models/sft/<setting>/epoch-NN (or the setting folder)")
    args = parser.parse_args()
    print(json.dumps(lineage(args.checkpoint), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
