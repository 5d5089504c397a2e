"""Stage derive_mixes: the Reconstruct and Maximum mixes derived from the analysis's classes and data
curves (data/mixes/<mix>.jsonl), and the derivation, ability by ability (metrics/derivation.json).
A change upstream that moves a class or a plateau re-derives the mixes and retrains them."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.mixes import ability_rules, derive_mixes
from doit_study.analysis.study_table import subset_factors
from doit_study.core.files import (
    DataError,
    atomic_dir,
    read_items,
    read_json,
    sha256_file,
    write_items,
    write_json,
)
from doit_study.core.schema import ABILITIES, data_seed_name, split_data_seed
from doit_study.core.stage import run_stage, stage_args
from doit_study.items.subsets import Subset, materialise, reordered
from doit_study.params.analysis import AnalysisParams
from doit_study.params.base import read_group
from doit_study.params.mixes import MixesParams


def main(argv: list[str] | None = None) -> None:
    paths = {
        "sensitivity": "metrics/sensitivity.json",
        "expanded": "data/expanded (each ability's pool, in order)",
        "subsets_index": "data/subsets/index.json",
        "out": "data/mixes",
        "derivation": "metrics/derivation.json (in git: the report reads it)",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, MixesParams)
    pool = read_group(args.params, AnalysisParams).pool
    sensitivity = read_json(Path(args.sensitivity))["sets"]
    index = read_json(Path(args.subsets_index))
    if params.baseline not in index["subsets"]:
        raise DataError(args.params, f"expand wrote no subset {params.baseline!r}", None, "mixes.baseline")
    factors = {name: subset_factors(name, index) for name in index["subsets"]}
    # the analysis's curves are over data volumes of the uniform subsets of its pool
    volume_to_n = {
        float(f["data_volume"]): f["n_per_ability"]
        for f in factors.values()
        if f["kind"] == "uniform" and f["pool"] == pool
    }
    pools = {a: read_items(Path(args.expanded) / f"{a}.jsonl") for a in ABILITIES}
    available = {a: len(items) for a, items in pools.items()}

    baseline_n = factors[params.baseline]["n_per_ability"]
    rules = ability_rules(sensitivity, volume_to_n, params.floor, baseline_n, params.plateau_tolerance)
    baseline_total = index["subsets"][params.baseline]["total"]
    mixes = derive_mixes(rules, baseline_total, available, params.maximum_per_ability)
    derivation = {"baseline": {"subset": params.baseline, "total": baseline_total}, "abilities": rules}
    data_seeds = sorted({split_data_seed(run.subset)[1] for run in params.settings.values()})
    with atomic_dir(args.out) as tmp:
        for seed in data_seeds:  # each replicate's mixes from its own draw of the pools
            drawn = reordered(pools, index["seed"], seed)
            for name, sizes in mixes.items():
                path = tmp / f"{data_seed_name(name, seed)}.jsonl"
                write_items(path, materialise(Subset(name, sizes, "mix", {}, seed), drawn))
                derivation.setdefault(name, {"sizes": sizes, "total": sum(sizes.values()), "sha256": {}})
                derivation[name]["sha256"][path.stem] = sha256_file(path)
    write_json(args.derivation, derivation)
    totals = ", ".join(f"{name} {sum(sizes.values())}" for name, sizes in mixes.items())
    print(f"derive_mixes: {totals} items (baseline {baseline_total}) in {args.out}")


if __name__ == "__main__":
    run_stage(main)
