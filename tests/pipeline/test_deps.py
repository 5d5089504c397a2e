"""`dvc repro` reruns what a change affects and nothing more: each stage's library deps in dvc.yaml are
its entry module's import closure (function-level imports included, since they run too, with the
package data files that code reads), as `python -m doit_study deps --write` writes them; and the
library is in layers, none importing a later one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from doit_study.pipeline.deps import MARKER, closure, compact, imported_modules, rewrite, stage_entries
from tests.helpers import REPO

SRC = REPO / "src"
PACKAGE = SRC / "doit_study"
LAYERS = ("core", "params", "items", "modeling", "training", "evaluation", "analysis", "pipeline")


def _names(stage: str) -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in closure(SRC, REPO / f"stages/{stage}.py")}


def test_dvc_yaml_holds_what_the_deps_command_writes():
    result = subprocess.run(
        [sys.executable, "-m", "doit_study", "deps", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_the_check_names_a_stage_whose_deps_differ(tmp_path):
    text = (REPO / "dvc.yaml").read_text(encoding="utf-8")
    edited = text.replace("      - src/doit_study/params/data.py\n", "", 1)
    assert edited != text
    deps = {
        "raw": [p.relative_to(REPO).as_posix() for p in compact(SRC, closure(SRC, REPO / "stages/raw.py"))]
    }
    fixed, changed = rewrite(edited, deps)
    assert changed == ["raw"]
    assert "      - src/doit_study/params/data.py\n" in fixed
    assert rewrite(fixed, deps)[1] == []  # written once, nothing left to change
    with pytest.raises(Exception, match=r"no .* line in the deps of stage report"):
        head, tail = text.split("\n  report:\n")
        rewrite(f"{head}\n  report:\n{tail.replace(MARKER, '# hand-typed')}", deps | {"report": []})


def test_every_stage_runs_its_entry_and_lists_it_by_hand():
    import yaml

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, entry in stage_entries(REPO).items():
        assert entry.relative_to(REPO).as_posix() in stages[name].get("do", stages[name])["deps"], name


def test_the_closures_follow_lazy_imports_packages_and_data_files():
    assert "modeling/sharding.py" in _names("train")  # imported inside a function (train.sharding: fsdp)
    assert "items/benchmarks.py" in _names("evaluate")  # through test_scoring
    annotate = _names("annotate")
    assert {"items/sources/__init__.py", "items/sources/builtin/__init__.py"} <= annotate  # package inits
    assert "items/sources/builtin/ethics_norms.yaml" in annotate  # read by the ethics builder


def test_imports_for_type_checking_only_are_not_deps(tmp_path):
    module = tmp_path / "entry.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from doit_study.core import schema\n"
        "def f():\n    from doit_study.core import files\n",
        encoding="utf-8",
    )
    assert imported_modules(SRC, module) == {"doit_study.core", "doit_study.core.files"}


def test_a_folder_is_written_only_when_every_file_of_it_runs():
    builtin = PACKAGE / "items/sources/builtin"
    whole = closure(SRC, REPO / "stages/annotate.py")
    assert builtin in compact(SRC, whole)
    part = frozenset(p for p in whole if p.name != "ethics_norms.yaml")
    assert builtin not in compact(SRC, part) and builtin / "ethics.py" in compact(SRC, part)


def test_the_closures_are_narrow():
    # training and scoring import no source; the foundations only the corpus of the snapshot
    for stage in ("train", "evaluate", "evaluate_base", "study", "analyse", "report"):
        assert not any(name.startswith("items/sources/") for name in _names(stage)), stage
    assert {n for n in _names("foundation") if n.startswith("items/sources/")} == {
        "items/sources/__init__.py",
        "items/sources/builtin/__init__.py",
        "items/sources/builtin/material.py",
        "items/sources/corpus.py",
        "items/sources/manifest.py",
    }
    for stage in ("study", "analyse", "report", "derive_mixes"):  # the analysis runs no model code
        assert not any(n.startswith(("modeling/", "training/")) for n in _names(stage)), stage
    assert not any(n.startswith("evaluation/") for n in _names("benchmark"))  # loading, no scoring
    # a stage imports the params groups it reads, not every group
    assert {n for n in _names("raw") if n.startswith("params/")} == {
        "params/__init__.py",
        "params/base.py",
        "params/data.py",
    }


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("doit_study."):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("doit_study.")]
    return found


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """Every import of a later layer, as `file:line imports module` (file from the package's src)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if len(parts) == 1:  # __main__: the command line, above every layer
            continue
        mine = LAYERS.index(parts[0])
        for line, module in _imports(path):
            theirs = module.split(".")[1]
            if theirs in LAYERS and LAYERS.index(theirs) > mine:
                found.append(f"{path.relative_to(package.parent)}:{line} imports {module}")
    return found


def test_no_module_imports_a_later_layer():
    assert sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        LAYERS
    )
    assert layer_violations() == []


def test_the_layer_check_names_the_offending_import(tmp_path):
    for layer in LAYERS:
        (tmp_path / "doit_study" / layer).mkdir(parents=True)
    (tmp_path / "doit_study/core/files.py").write_text(
        "import json\n\ndef f():\n    from doit_study.analysis.fits import fits\n", encoding="utf-8"
    )
    (tmp_path / "doit_study/analysis/fits.py").write_text("from doit_study.core import files\n")
    found = layer_violations(tmp_path / "doit_study")
    assert found == ["doit_study/core/files.py:4 imports doit_study.analysis.fits"]
