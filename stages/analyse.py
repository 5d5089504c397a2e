"""Stage analyse: scaling sensitivities (metrics/sensitivity.json), Complexity and Transference
(metrics/features.json), their regression on the sensitivities (metrics/regression.json) and the
figures (metrics/figures/)."""

from __future__ import annotations

from pathlib import Path

from doit_study.analysis import classify_all, feature_regressions, features, sensitivities
from doit_study.cli import run_stage, stage_parser
from doit_study.config import load_group
from doit_study.figures import draw_figures
from doit_study.io import DataError, atomic_dir, read_json, read_json_lines, write_json
from doit_study.schema import ABILITIES
from doit_study.study_table import read_csv


def _per_item(predictions: Path, setting: str) -> dict[str, list[bool]]:
    correct: dict[str, list[bool]] = {}
    for _, record in read_json_lines(predictions / setting / "test.jsonl"):
        correct.setdefault(record["type"], []).append(bool(record["correct"]))
    return correct


def main(argv: list[str] | None = None) -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="metrics/study.csv")
    parser.add_argument("--plots", required=True, help="metrics/plots")
    parser.add_argument("--predictions", required=True, help="metrics/predictions")
    parser.add_argument("--foundations", required=True, help="metrics/foundations")
    parser.add_argument("--out", required=True, help="metrics (sensitivity/features/regression JSON)")
    parser.add_argument("--figures", required=True, help="metrics/figures")
    args = parser.parse_args(argv)
    params = load_group(args.params, "analysis")
    rows = [r for r in read_csv(Path(args.study)) if r["split"] == "test"]
    predictions = Path(args.predictions)
    settings = sorted({r["setting"] for r in rows})
    correct = {s: _per_item(predictions, s) for s in settings}

    grid = [r for r in rows if r["kind"] == "uniform" and r["pool"] == params.pool]
    sensitivity = sensitivities(
        grid, correct, params.bootstrap.replicates, params.bootstrap.seed, params.bootstrap.level
    )
    classes = classify_all(sensitivity, params.thresholds.model_dump())
    for name, label in classes.items():
        sensitivity[name]["class"] = label
    single = [r for r in rows if r["kind"] == "single_ability"]
    cross: dict[str, dict[str, float]] = {}
    loss: dict[str, float] = {}
    for row in single:
        trained = row["pool"].removeprefix("only-")
        cross.setdefault(trained, {})[row["ability"]] = float(row["acc"])
        if row["ability"] == trained:
            loss[trained] = float(row["loss"])
    sizes = sorted({r["size"] for r in single})
    if len(sizes) > 1:
        raise DataError(args.params, f"single-ability runs use several sizes {sizes}", None, "train.settings")
    foundation = {}
    if sizes:
        base = read_json(Path(args.foundations) / f"{sizes[0]}.json")
        foundation = {a: base[f"test.{a}.acc"] for a in ABILITIES if f"test.{a}.acc" in base}
    feature = features(ABILITIES, cross, loss, foundation, params.weights.model_dump())
    regressions = feature_regressions(sensitivity, feature)

    out = Path(args.out)
    write_json(out / "sensitivity.json", sensitivity)
    write_json(out / "features.json", feature)
    write_json(out / "regression.json", regressions)
    plots = Path(args.plots)
    overall_rows = read_csv(plots / "overall.csv")
    ability_rows = {p.stem: read_csv(p) for p in sorted((plots / "abilities").glob("*.csv"))}
    with atomic_dir(args.figures) as tmp:
        names = draw_figures(Path(tmp), overall_rows, ability_rows, sensitivity, feature, regressions)
    print(f"analyse: {len(sensitivity)} sensitivities, {len(names)} figures in {args.figures}")


if __name__ == "__main__":
    run_stage(main)
