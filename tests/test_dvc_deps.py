"""`dvc repro` reruns everything a change affects: each stage's deps in dvc.yaml cover the import
closure of its entry module within the package (function-level imports included, since they run
too), every package data file that code reads, and nothing more than that in src/, so that editing
one library module reruns exactly the stages that execute it."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "doit_study"


def module_file(name: str) -> Path | None:
    base = SRC / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_inits(name: str) -> list[Path]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    inits = [SRC / Path(*parts[:k]) / "__init__.py" for k in range(1, len(parts))]
    return [path for path in inits if path.is_file()]


def imported_modules(path: Path) -> set[str]:
    """Modules of the package an entry or library file imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return found


@cache
def closure(entry: Path) -> frozenset[Path]:
    """Every file of the package that running `entry` executes: modules, their package __init__
    files, and the data files those modules name."""
    files, todo = set(), [entry]
    while todo:
        path = todo.pop()
        for name in imported_modules(path):
            for file in [*_package_inits(name), module_file(name)]:
                if file and file not in files:
                    files.add(file)
                    todo.append(file)
    return frozenset(files | data_files_read_by(files))


def data_files_read_by(modules: set[Path]) -> set[Path]:
    data = [p for p in (SRC / PACKAGE).rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
    texts = {module: module.read_text(encoding="utf-8") for module in modules}
    return {file for file in data if any(file.name in text for text in texts.values())}


def stage_specs() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def entry_of(spec: dict) -> Path:
    script = next(word for word in spec["cmd"].split() if word.startswith("stages/"))
    return REPO / script


def uncovered(spec: dict, deps: list[str]) -> list[str]:
    """Closure files that no dep (a file, or a folder above it) covers."""
    roots = [REPO / dep for dep in deps]
    return sorted(
        str(file.relative_to(REPO))
        for file in closure(entry_of(spec))
        if not any(file == root or root in file.parents for root in roots)
    )


STAGES = stage_specs()


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_module_and_data_file_a_stage_runs_is_a_dep(name):
    spec = STAGES[name]
    assert entry_of(spec).relative_to(REPO).as_posix() in spec["deps"]
    assert uncovered(spec, spec["deps"]) == [], f"{name}: add these to its deps in dvc.yaml"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_no_library_dep_is_superfluous(name):
    """Removing any src/ dep leaves part of the closure uncovered: the check fails when a needed dep
    is missing, and a module a stage never runs does not rerun it."""
    deps = STAGES[name]["deps"]
    for dep in (d for d in deps if d.startswith("src/")):
        rest = [d for d in deps if d != dep]
        assert uncovered(STAGES[name], rest), f"{name}: {dep} is not part of what the stage runs"


def _names(stage: str) -> set[str]:
    return {str(p.relative_to(SRC / PACKAGE)) for p in closure(REPO / f"stages/{stage}.py")}


def test_the_closures_follow_lazy_imports_packages_and_data_files():
    assert "sharding.py" in _names("train")  # imported inside a function (train.sharding: fsdp)
    assert "benchmarks.py" in _names("evaluate")  # through scorecard
    annotate = _names("annotate")
    assert {"sources/__init__.py", "sources/builtin/__init__.py"} <= annotate  # package inits run
    assert "sources/builtin/ethics_norms.yaml" in annotate  # read by the ethics builder


def test_the_closures_are_narrow():
    # evaluation and training import no source; the foundations only the corpus of the snapshot
    for stage in ("train", "evaluate", "evaluate_base", "study", "analyse", "report"):
        assert not any(name.startswith("sources/") for name in _names(stage)), stage
    assert {n for n in _names("foundation") if n.startswith("sources/")} == {
        "sources/__init__.py",
        "sources/builtin/__init__.py",
        "sources/builtin/material.py",
        "sources/corpus.py",
        "sources/manifest.py",
    }
