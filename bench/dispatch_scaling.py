"""How a study would scale with more stages at once, estimated from one serial build: its measured
per-stage times (`bench/default_study.py`'s JSON) scheduled over the DAG as the dispatch driver
schedules it (a stage starts once everything above it is done, at most N at once, the longest path
first among the ready ones). The estimate assumes each stage keeps its serial time, so it holds
where a stage has its own cores (N jobs on at least N cores, one thread each); it is an upper
bound on the gain where stages share memory bandwidth. Prints JSON: the waves' widths, the
critical path, and the estimated wall time for each N.

    python bench/dispatch_scaling.py --workspace DIR --timings build.json [--jobs 1 2 4 8 16]
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
from pathlib import Path

from doit_study.pipeline.dispatch import dag, waves


def remaining(graph: dict[str, set[str]], seconds: dict[str, float]) -> dict[str, float]:
    """Each stage's time plus the longest chain of stages below it."""
    below = {stage: {s for s in graph if stage in graph[s]} for stage in graph}
    found: dict[str, float] = {}

    def visit(stage: str) -> float:
        if stage not in found:
            found[stage] = seconds[stage] + max((visit(s) for s in below[stage]), default=0.0)
        return found[stage]

    for stage in graph:
        visit(stage)
    return found


def scheduled(graph: dict[str, set[str]], seconds: dict[str, float], jobs: int) -> float:
    """The wall time of list scheduling on `jobs` workers, longest remaining path first."""
    priority = remaining(graph, seconds)
    done: set[str] = set()
    running: list[tuple[float, str]] = []
    waiting = set(graph)
    now = 0.0
    while waiting or running:
        ready = sorted((s for s in waiting if graph[s] <= done), key=lambda s: -priority[s])
        for stage in ready[: jobs - len(running)]:
            waiting.discard(stage)
            heapq.heappush(running, (now + seconds[stage], stage))
        now, stage = heapq.heappop(running)
        done.add(stage)
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", required=True, type=Path, help="the study the timings come from")
    parser.add_argument("--timings", required=True, type=Path, help="bench/default_study.py's JSON")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1, 2, 4, 8, 16])
    args = parser.parse_args()
    seconds = json.loads(args.timings.read_text())["by_stage_s"]
    os.chdir(args.workspace)  # DVC names stages relative to the working directory
    graph = dag(Path.cwd())
    if missing := sorted(set(graph) - set(seconds)):
        raise SystemExit(f"no timing for {len(missing)} stages, e.g. {missing[:3]}")
    print(
        json.dumps(
            {
                "stages": len(graph),
                "serial_s": round(sum(seconds[s] for s in graph), 1),
                "critical_path_s": round(max(remaining(graph, seconds).values()), 1),
                "wave_widths": [len(wave) for wave in waves(graph, set(graph))],
                "estimated_s": {str(n): round(scheduled(graph, seconds, n), 1) for n in args.jobs},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
