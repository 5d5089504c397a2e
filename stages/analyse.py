"""Stage analyse: every set's scaling on accuracy and on the continuous score, with noise,
signal-to-noise and decision accuracy (metrics/sensitivity.json), Complexity and Transference
(metrics/features.json), their regression on the sensitivities (metrics/regression.json), both per
score, and the figures (metrics/figures/)."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis.factors import DESIGNS
from doit_study.analysis.figures import draw_figures
from doit_study.analysis.scaling import (
    design_records,
    features_on_scores,
    item_frame,
    judged_items,
    sensitivities,
)
from doit_study.analysis.study_table import read_frame, read_study
from doit_study.core.files import DataError, atomic_dir, read_json, read_json_lines, write_json
from doit_study.core.schema import ABILITIES, PROMPTINGS
from doit_study.core.stage import run_stage, stage_args
from doit_study.params.analysis import AnalysisParams
from doit_study.params.base import read_group


def read_records(path: Path) -> list[dict]:
    """A predictions file's records; none for a prompting that was not scored (no such file)."""
    if not path.is_file() and path.stem != "test":
        return []
    return [record for _, record in read_json_lines(path)]


def main(argv: list[str] | None = None) -> None:
    paths = {
        "study": "metrics/study.csv",
        "plots": "metrics/plots",
        "predictions": "metrics/predictions",
        "foundations": "metrics/foundations",
        "subsets_index": "data/subsets/index.json (held-out tasks)",
        "judge": "metrics/judge (judgements per setting)",
        "out": "metrics (sensitivity/features/regression JSON)",
        "figures": "metrics/figures",
    }
    args = stage_args(__doc__, argv, paths=paths)
    params = read_group(args.params, AnalysisParams)
    kind, factors = DESIGNS[params.design]
    study = read_study(args.study)
    test = study[study["split"] == "test"]
    grid = test[(test["kind"] == kind) & ((test["pool"] == params.pool) | (kind != "uniform"))]
    single = test[test["kind"] == "single_ability"]
    predictions = Path(args.predictions)
    held_out = (read_json(Path(args.subsets_index)).get("tasks") or {}).get("held_out", [])
    records = {
        name: design_records(
            read_records(predictions / name / "test.jsonl"),
            held_out,
            judged_items(Path(args.judge), name),
            {p: read_records(predictions / name / f"test-{p}.jsonl") for p in PROMPTINGS},
        )
        for name in sorted(set(grid["setting"]) | set(single["setting"]))
    }
    epochs = {name: read_json(predictions / name / "epochs.json") for name in sorted(set(grid["setting"]))}
    sensitivity = sensitivities(
        grid,
        item_frame(records),
        epochs,
        params.bootstrap.model_dump(),
        params.thresholds.model_dump(),
        factors,
    )
    sizes = sorted(single["size"].unique())
    if len(sizes) > 1:
        raise DataError(args.params, f"single-ability runs use several sizes {sizes}", None, "train.settings")
    foundation = read_json(Path(args.foundations) / f"{sizes[0]}.json") if sizes else {}
    feature, regressions = features_on_scores(
        ABILITIES, single, foundation, sensitivity, params.weights.model_dump()
    )

    out = Path(args.out)
    write_json(out / "sensitivity.json", sensitivity)
    write_json(out / "features.json", feature)
    write_json(out / "regression.json", regressions)
    plots = Path(args.plots)
    tables = {
        "overall": read_frame(plots / "overall.csv"),
        "acc": {p.stem: read_frame(p) for p in sorted((plots / "abilities").glob("*.csv"))},
        "continuous": {p.stem: read_frame(p) for p in sorted((plots / "abilities_continuous").glob("*.csv"))},
    }
    with atomic_dir(args.figures) as tmp:
        names = draw_figures(Path(tmp), tables, sensitivity, feature, regressions, (params.design, study))
    print(
        f"analyse: {len(sensitivity)} sets on {len(feature)} scores, {len(names)} figures in {args.figures}"
    )


if __name__ == "__main__":
    run_stage(main)
