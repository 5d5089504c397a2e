"""`python -m doit_study lineage <checkpoint>`: where a checkpoint comes from.
`python -m doit_study budget --params profiles/paper.yaml`: the compute a profile needs.
`python -m doit_study dispatch`: every stale stage as a Slurm or local job (doit_study.dispatch)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from doit_study.budget import compute_budget, mean_tokens_per_item
from doit_study.config import load_params
from doit_study.tracking import lineage


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m doit_study")
    commands = parser.add_subparsers(dest="command", required=True)
    trace = commands.add_parser("lineage", help="trace a checkpoint back to its data, base model and run")
    trace.add_argument("checkpoint", type=Path, help="models/sft/<setting>/epoch-NN (or the setting folder)")
    plan = commands.add_parser("budget", help="training FLOPs and GPU-hours of a params file")
    plan.add_argument("--params", type=Path, default=Path("params.yaml"))
    plan.add_argument("--tokens-per-item", type=float, help="mean tokens per training item (or measure it:)")
    plan.add_argument("--measure-on", type=Path, help="a subset file to measure tokens per item on")
    plan.add_argument("--tokenizer", type=Path, help="the tokenizer folder to measure with")
    plan.add_argument("--gpu-tflops", type=float, default=312.0, help="peak bf16 TFLOP/s (A100: 312)")
    plan.add_argument("--utilisation", type=float, default=0.4, help="fraction of the peak reached")
    run = commands.add_parser("dispatch", help="run every stale stage as a job (Slurm or local)")
    run.add_argument("--params", type=Path, default=Path("params.yaml"), help="its dispatch group")
    run.add_argument("--executor", choices=["local", "slurm"], help="instead of dispatch.executor")
    run.add_argument("--jobs", type=int, help="jobs at once, instead of dispatch.jobs")
    run.add_argument("--retries", type=int, help="instead of dispatch.retries")
    run.add_argument("--dry-run", action="store_true", help="print the waves as JSON; submit nothing")
    args = parser.parse_args()
    if args.command == "dispatch":
        raise SystemExit(dispatch_command(args))
    if args.command == "lineage":
        print(json.dumps(lineage(args.checkpoint), ensure_ascii=False, indent=2))
        return
    params = load_params(args.params)
    tokens = args.tokens_per_item
    if args.measure_on:
        tokens = mean_tokens_per_item(args.measure_on, args.tokenizer, params.train.max_length)
    if not tokens:
        parser.error("budget: give --tokens-per-item, or --measure-on <subset> with --tokenizer")
    result = compute_budget(params, tokens, args.gpu_tflops, args.utilisation)
    print(json.dumps(result, indent=2))


def dispatch_command(args) -> int:
    from doit_study import dispatch

    root = Path.cwd()
    if args.dry_run:
        print(json.dumps(dispatch.dry_run(root), indent=2))
        return 0
    group = load_params(args.params).dispatch
    settings = dispatch.Settings(
        executor=args.executor or group.executor,
        jobs=args.jobs or group.jobs,
        retries=group.retries if args.retries is None else args.retries,
        poll_seconds=group.poll_seconds,
        log_dir=(root / group.log_dir).resolve(),
        resources=tuple(group.resources),
        gpus=tuple(group.gpus),
    )
    outcome = dispatch.dispatch(root, settings, say=lambda line: print(line, flush=True))
    print(outcome.summary())
    return 1 if outcome.failed else 0


if __name__ == "__main__":
    main()
