"""The forecast section of the report and the README, from metrics/forecast.json: the errors first
(per target, score and method: forecasts, failed fits, mean absolute error, interval coverage, too
wide, decision accuracy), which method wins, then DoIT's features as a forecast against a constant."""

from __future__ import annotations

from collections.abc import Mapping

from doit_study.analysis.findings import number

AXES = {"param": "largest model size", "data": "largest data volume", "tasks": "largest task count"}
SCORES = {"acc": "accuracy", "continuous": "continuous score"}
PAIRS = {
    "complexity_vs_param": "Complexity → size sensitivity",
    "transference_vs_data": "Transference → data sensitivity",
}
METHOD_LABELS = {
    "ranking": "ranking at the smallest scale",
    "one_step_linear": "one step, linear in log x",
    "one_step_power": "one step, power law",
    "two_step": "two steps (power law, then sigmoid)",
}


def _share(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def error_table(summary: Mapping) -> list[str]:
    head = ("target", "score", "method", "forecasts (failed)", "mean abs. error", "coverage (too wide)")
    lines = ["| " + " | ".join([*head, "decision accuracy"]) + " |", "| --- " * (len(head) + 1) + "|"]
    for axis, scores in summary.items():
        for score, block in scores.items():
            for method, stats in block["methods"].items():
                wins = " **(lowest error)**" if method == block.get("best_mae") else ""
                forecasts = (
                    "–" if method == "ranking" else f"{stats.get('forecasts', 0)} ({stats.get('failed', 0)})"
                )
                error = "–" if stats.get("mae") is None else number(stats["mae"])
                if stats.get("mae_points") is not None:
                    error += f" ({stats['mae_points']:.1f} points)"
                coverage = (
                    "–"
                    if stats.get("coverage") is None
                    else f"{_share(stats['coverage'])} ({stats.get('too_wide', 0)})"
                )
                label = f"{METHOD_LABELS.get(method, method)}{wins}"
                cells = [AXES.get(axis, axis), SCORES[score], label, forecasts, error, coverage]
                lines.append("| " + " | ".join([*cells, _share(stats.get("decision_accuracy"))]) + " |")
    return lines


def feature_lines(features: Mapping) -> list[str]:
    lines = []
    for score, pairs in features.items():
        for key, found in pairs.items():
            label = PAIRS.get(key, key)
            if not found.get("defined"):
                lines.append(f"{SCORES[score]}, {label}: undefined ({found.get('reason')})")
                continue
            verdict = "beats" if found["features_better"] else "does not beat"
            errors = f"{number(found['mae_features'])} against {number(found['mae_constant'])}"
            closer = f"{found['wins']} of {found['abilities']} abilities closer"
            lines.append(
                f"{SCORES[score]}, {label}: leave-one-ability-out error {errors} for the others' mean "
                f"({closer}): the feature {verdict} a constant"
            )
    return lines


def forecast_section(forecast: Mapping | None) -> list[str]:
    if not forecast or not forecast.get("summary"):
        return []
    lines = [
        "## Forecasts: the held-out targets predicted from the smaller runs",
        "",
        f"Each target's runs were trained and scored but hidden from the fits; {forecast['level']:.0%} "
        'prediction intervals for the target\'s replicate mean (docs/analysis.md, "Forecasts"). Coverage is '
        "the share of intervals that hold the actual; too wide: an interval wider than the whole range, "
        "which decides nothing. Figure: `forecast.png`.",
        "",
        *error_table(forecast["summary"]),
        "",
        "DoIT's features as a forecast of the sensitivities (Figure 7 read as a prediction):",
        "",
        *[f"- {line}" for line in feature_lines(forecast.get("features", {}))],
        "",
    ]
    return lines
