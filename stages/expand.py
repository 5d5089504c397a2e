"""Stage expand: the training pool per ability (data/expanded) and every training subset
(data/subsets/<name>.jsonl, listed in data/subsets/index.json)."""

from __future__ import annotations

from pathlib import Path

from doit_study.core.files import DataError, atomic_dir, read_items, sha256_file, write_items, write_json
from doit_study.core.schema import ABILITIES, SYNTHETIC_TYPE
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.design_subsets import chain_targets, task_order, task_pools
from doit_study.items.subsets import (
    build_pools,
    check_sizes,
    materialise,
    plan_subsets,
    pool_order,
    reordered,
)
from doit_study.params.base import read_group
from doit_study.params.expand import ExpandParams
from doit_study.params.prompting import PromptingParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "annotated": "annotated directory (data/annotated)",
        "expanded": "pool directory to write (data/expanded)",
        "subsets": "subset directory to write (data/subsets)",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, ExpandParams)
    prompting = read_group(args.params, PromptingParams)
    train_dir = args.annotated / "train"
    train = {path.stem: read_items(path) for path in sorted(train_dir.glob("*.jsonl"))}
    pools, shortfall = build_pools(train, params.pool, params.seed)
    if SYNTHETIC_TYPE in train:
        pools[SYNTHETIC_TYPE] = pool_order(train[SYNTHETIC_TYPE], params.seed, SYNTHETIC_TYPE)
    available = {name: len(items) for name, items in pools.items()}
    if params.synthetic_n_per_ability and not available.get(SYNTHETIC_TYPE):
        message = "the source has no synthetic pool (set it to [] for this source)"
        raise DataError(args.params, message, None, "expand.synthetic_n_per_ability")
    by_task = task_pools(pools)
    order = None
    if params.task_counts.counts:
        try:
            order = task_order(pools, params.seed, params.task_counts.held_out)
            plan = plan_subsets(params, available | {t: len(v) for t, v in by_task.items()}, order)
        except ValueError as error:
            raise DataError(args.params, str(error), None, "expand.task_counts") from None
    else:
        plan = plan_subsets(params, available, None)
    check_sizes(plan, available | {t: len(v) for t, v in by_task.items()}, args.params)

    with atomic_dir(args.expanded) as expanded_tmp, atomic_dir(args.subsets) as subsets_tmp:
        for name, items in pools.items():
            write_items(Path(expanded_tmp) / f"{name}.jsonl", items)
        index = {}
        drawn = {seed: reordered(pools, params.seed, seed) for seed in params.data_seeds}
        for subset in plan:
            path = Path(subsets_tmp) / f"{subset.name}.jsonl"
            items = materialise(subset, drawn[subset.data_seed] | by_task)
            if subset.factors.get("cot_ratio") is not None:
                items = chain_targets(items, subset.factors["cot_ratio"], prompting.direct, prompting.cot)
            write_items(path, items)
            index[subset.name] = {
                "kind": subset.kind,
                "sizes": subset.sizes,
                "total": sum(subset.sizes.values()),
                "sha256": sha256_file(path),
                "data_seed": subset.data_seed,
            } | subset.factors
        pool_sizes = {name: available[name] for name in [*ABILITIES, SYNTHETIC_TYPE] if name in available}
        tasks = {"trained": order.trained, "held_out": order.held_out} if order else None
        record = {"pools": pool_sizes, "pool_shortfall": shortfall, "subsets": index, "tasks": tasks}
        record |= {"seed": params.seed, "data_seeds": params.data_seeds}  # how later stages redraw
        write_json(Path(subsets_tmp) / "index.json", record)
    print(f"expand: {sum(available.values())} pool items, {len(plan)} subsets written to {args.subsets}")


if __name__ == "__main__":
    run_stage(main)
