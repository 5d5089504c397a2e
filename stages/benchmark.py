"""Stage benchmark: the multiple-choice suites of Section 5, normalised to data/benchmarks/<suite>.jsonl.

Offline, a held-out suite is built from the builtin character dictionary (facts no training
ability asks about); with paths in params, CMMLU and AGIEval are read from their GitHub layouts,
and any suite in `benchmark.hub` through Hugging Face datasets (C-Eval, CMMLU, AGIEval hub copies).

gold_letters.json holds each suite's test answers over the letters A-D, against uniform.
"""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, atomic_dir, read_json_lines, write_json, write_json_lines
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.answer_positions import letter_balance
from doit_study.items.benchmarks import build_character_benchmark, load_agieval, load_cmmlu, load_hub_suite
from doit_study.params.base import read_group
from doit_study.params.benchmark import BenchmarkParams


def main(argv: list[str] | None = None) -> None:
    paths = {"raw": "raw directory (data/raw)", "out": "directory to write (data/benchmarks)"}
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, BenchmarkParams)
    suites = {}
    if params.heldout:
        characters = args.raw / "characters.jsonl"
        if not characters.is_file():
            raise DataError(characters, "benchmark.heldout needs the builtin source's character dictionary")
        records = [record for _, record in read_json_lines(characters)]
        suites["heldout"] = build_character_benchmark(
            records, params.seed, params.heldout.size, params.heldout.dev
        )
    if params.cmmlu:
        suites["cmmlu"] = load_cmmlu(params.cmmlu)
    if params.agieval:
        suites["agieval"] = load_agieval(params.agieval.path, params.agieval.tasks, params.agieval.dev)
    for spec in params.hub:  # Hugging Face datasets: hub copies at a pinned commit, or local folders
        if spec.suite in suites:
            raise DataError(args.params, f"suite {spec.suite!r} is read twice", None, "benchmark.hub")
        suites[spec.suite] = load_hub_suite(spec)
    with atomic_dir(args.out) as tmp:
        for name, questions in suites.items():
            write_json_lines(Path(tmp) / f"{name}.jsonl", (q.model_dump() for q in questions))
        balance = {
            name: letter_balance((q.answer for q in questions if q.split == "test"), "ABCD")
            for name, questions in suites.items()
        }
        write_json(Path(tmp) / "gold_letters.json", balance)
    counts = {name: sum(q.split == "test" for q in questions) for name, questions in suites.items()}
    print(f"benchmark: {counts} test questions in {args.out}")


if __name__ == "__main__":
    run_stage(main)
