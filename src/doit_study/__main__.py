"""The command line beside the stages (`python -m doit_study <command>`):

- `check`: a params file, every group and the checks across groups;
- `lineage <checkpoint>`: where a checkpoint comes from;
- `cost --params profiles/paper.yaml`: the training compute a profile needs;
- `dispatch`: every stale stage as a Slurm or local job (doit_study.pipeline.dispatch);
- `deps --write | --check | --reruns`: each stage's library deps in dvc.yaml (doit_study.pipeline.deps);
- `verify`: every number in metrics/, the report and the README recomputed from the item tables;
- `results --write`: the README's results section, rendered from metrics/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from doit_study.core.files import DataError


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m doit_study")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a params file: every group and across groups")
    check.add_argument("--params", type=Path, default=Path("params.yaml"))
    trace = commands.add_parser("lineage", help="trace a checkpoint back to its data, base model and run")
    trace.add_argument("checkpoint", type=Path, help="models/sft/<setting>/epoch-NN (or the setting folder)")
    plan = commands.add_parser("cost", help="training FLOPs and GPU-hours of a params file")
    plan.add_argument("--params", type=Path, default=Path("params.yaml"))
    plan.add_argument("--tokens-per-item", type=float, help="mean tokens per training item (or measure it:)")
    plan.add_argument("--measure-on", type=Path, help="a subset file to measure tokens per item on")
    plan.add_argument("--tokenizer", type=Path, help="the tokenizer folder to measure with")
    plan.add_argument("--gpu-tflops", type=float, default=312.0, help="peak bf16 TFLOP/s (A100: 312)")
    plan.add_argument("--utilisation", type=float, default=0.4, help="fraction of the peak reached")
    run = commands.add_parser("dispatch", help="run every stale stage as a job (Slurm or local)")
    run.add_argument(
        "targets", nargs="*", help="stage names (dvc stage list) and the stages above them; default: all"
    )
    run.add_argument("--params", type=Path, default=Path("params.yaml"), help="its dispatch group")
    run.add_argument("--executor", choices=["local", "slurm"], help="instead of dispatch.executor")
    run.add_argument("--jobs", type=int, help="jobs at once, instead of dispatch.jobs")
    run.add_argument("--retries", type=int, help="instead of dispatch.retries")
    run.add_argument("--dry-run", action="store_true", help="print the waves as JSON; submit nothing")
    deps = commands.add_parser("deps", help="each stage's library deps in dvc.yaml, from its imports")
    action = deps.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite them in dvc.yaml")
    action.add_argument("--check", action="store_true", help="exit 1 naming each stage whose deps differ")
    action.add_argument("--reruns", action="store_true", help="per library file, the stages an edit reruns")
    verify = commands.add_parser("verify", help="recompute every number from the item tables and params")
    verify.add_argument("--params", type=Path, default=Path("params.yaml"))
    results = commands.add_parser("results", help="the README's results section, from metrics/")
    results.add_argument("--write", action="store_true", required=True, help="rewrite it in README.md")
    results.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    try:
        code = COMMANDS[args.command](args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        code = 2
    raise SystemExit(code)


def check_command(args) -> int:
    from doit_study.params.study import load_params

    params = load_params(args.params)
    settings = len(params.train.settings)
    print(f"{args.params}: {settings} settings; every group and every check across groups pass")
    return 0


def lineage_command(args) -> int:
    from doit_study.core.tracking import lineage

    print(json.dumps(lineage(args.checkpoint), ensure_ascii=False, indent=2))
    return 0


def cost_command(args) -> int:
    from doit_study.params.study import load_params
    from doit_study.pipeline.cost import measured_lengths, training_cost

    params = load_params(args.params)
    tokens, measured = args.tokens_per_item, {}
    if args.measure_on:
        measured = measured_lengths(args.measure_on, args.tokenizer, params.train.max_length)
        tokens = measured["mean_tokens_per_item"]
    if not tokens:
        print("cost: give --tokens-per-item, or --measure-on <subset> with --tokenizer", file=sys.stderr)
        return 2
    cost = training_cost(params, tokens, args.gpu_tflops, args.utilisation)
    print(json.dumps(cost | ({"measured": measured} if measured else {}), indent=2))
    return 0


def dispatch_command(args) -> int:
    from doit_study.pipeline import dispatch
    from doit_study.pipeline.dvc_lock import lock_holders

    root = Path.cwd()
    # before any work: a DVC command running here would make the driver's first `dvc status` fail
    if holders := lock_holders(root):
        print("dispatch: DVC is busy in this workspace:", *holders, sep="\n  ", file=sys.stderr)
        print("wait for it to end (or stop it), then run the driver again", file=sys.stderr)
        return 1
    try:
        return _dispatch(root, args)
    except dispatch.UnknownStage as error:  # raised before anything runs
        print(f"dispatch: {error}", file=sys.stderr)
        return 2


def _dispatch(root: Path, args) -> int:
    """The driver, or its plan (--dry-run), for `args.targets` (all stages when none)."""
    from doit_study.params.study import load_params
    from doit_study.pipeline import dispatch

    if args.dry_run:
        print(json.dumps(dispatch.dry_run(root, args.targets), indent=2))
        return 0
    group = load_params(args.params).dispatch  # the whole file: no job starts on a bad one
    settings = dispatch.Settings(
        executor=args.executor or group.executor,
        jobs=args.jobs or group.jobs,
        retries=group.retries if args.retries is None else args.retries,
        poll_seconds=group.poll_seconds,
        log_dir=(root / group.log_dir).resolve(),
        resources=tuple(group.resources),
        gpus=tuple(group.gpus),
    )
    outcome = dispatch.dispatch(root, settings, lambda line: print(line, flush=True), targets=args.targets)
    print(outcome.summary())
    return 1 if outcome.failed else 0


def deps_command(args) -> int:
    from doit_study.pipeline import deps

    root = Path.cwd()
    if args.reruns:
        for name, count in sorted(deps.rerun_counts(root).items()):
            print(f"{count:4d}  {name}")
        return 0
    path = root / "dvc.yaml"
    text, changed = deps.rewrite(path.read_text(encoding="utf-8"), deps.written_deps(root))
    if args.check:
        for stage in changed:
            print(f"dvc.yaml: the library deps of stage {stage} differ from its imports", file=sys.stderr)
        if changed:
            print("run `python -m doit_study deps --write`", file=sys.stderr)
        return 1 if changed else 0
    if changed:
        from doit_study.core.files import atomic_file

        with atomic_file(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    print(f"dvc.yaml: {len(changed)} stages rewritten" if changed else "dvc.yaml: every stage's deps agree")
    return 0


def verify_command(args) -> int:
    from doit_study.params.study import load_params
    from doit_study.pipeline.verify import verify_study

    problems = verify_study(Path.cwd(), load_params(args.params))
    for line in problems:
        print(f"differs: {line}", file=sys.stderr)
    print(f"verify: {len(problems)} numbers differ" if problems else "verify: every number recomputes")
    return 1 if problems else 0


def results_command(args) -> int:
    from doit_study.analysis.readme_results import write_readme_results
    from doit_study.params.study import load_params

    level = load_params(args.params).analysis.level
    changed = write_readme_results(Path.cwd() / "README.md", Path.cwd() / "metrics", level)
    print("README.md: results rewritten" if changed else "README.md: results already agree with metrics/")
    return 0


COMMANDS = {
    "check": check_command,
    "lineage": lineage_command,
    "cost": cost_command,
    "dispatch": dispatch_command,
    "deps": deps_command,
    "verify": verify_command,
    "results": results_command,
}


if __name__ == "__main__":
    main()
