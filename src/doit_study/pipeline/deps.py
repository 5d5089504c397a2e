"""Each stage's library code as DVC deps, written from its import closure, never by hand.

`python -m doit_study deps --write` rewrites, in every stage of dvc.yaml, the `src/` lines below the
marker comment (`MARKER`) from the stage's entry module (`stages/<stage>.py` in its cmd): every
module it imports, at any depth and wherever the import statement is (inside a function too: it runs
when called), the packages' `__init__` files, and the package data files those modules name. A
folder whose every file is in the closure is written as the folder. Everything else in dvc.yaml (cmd,
data deps, params, outs, comments) is left as it is. `--check` names each stage whose lines differ.

So an edit to a library file reruns exactly the stages that execute it (`rerun_counts` measures it).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from doit_study.core.files import DataError

PACKAGE = "doit_study"
MARKER = "# library code: written by `python -m doit_study deps --write`"
_IGNORED = ("__pycache__",)  # .dvcignore leaves compiled Python out of a folder's hash


def _package_files(src: Path) -> list[Path]:
    return sorted(p for p in (src / PACKAGE).rglob("*") if p.is_file() and not set(_IGNORED) & set(p.parts))


def _module_file(src: Path, name: str) -> Path | None:
    base = src / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_inits(src: Path, name: str) -> list[Path]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    inits = [src / Path(*parts[:k]) / "__init__.py" for k in range(1, len(parts))]
    return [path for path in inits if path.is_file()]


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported_modules(src: Path, path: Path) -> set[str]:
    """Modules of the package a file imports, wherever the import statement is (imports under
    `if TYPE_CHECKING:` never run and are left out)."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            todo += node.orelse
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            found.add(node.module)
            found |= {
                f"{node.module}.{a.name}" for a in node.names if _module_file(src, f"{node.module}.{a.name}")
            }
        todo += ast.iter_child_nodes(node)
    return found


@cache
def closure(src: Path, entry: Path) -> frozenset[Path]:
    """Every file of the package that running `entry` executes or reads: modules, their packages'
    __init__ files, and the data files those modules name."""
    files: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        for name in imported_modules(src, path):
            for file in [*_package_inits(src, name), _module_file(src, name)]:
                if file and file not in files:
                    files.add(file)
                    todo.append(file)
    data = [p for p in _package_files(src) if p.suffix != ".py"]
    texts = [module.read_text(encoding="utf-8") for module in files]
    return frozenset(files | {file for file in data if any(file.name in text for text in texts)})


def compact(src: Path, files: frozenset[Path]) -> list[Path]:
    """`files`, with the highest folder below the package whose every file is among them written
    as the folder (the package's own folder never: it holds every layer)."""
    package, every = src / PACKAGE, _package_files(src)

    @cache
    def covered(folder: Path) -> bool:
        return all(p in files for p in every if folder in p.parents)

    result = set()
    for file in files:
        below = [folder for folder in file.parents if package in folder.parents]  # nearest first
        result.add(next((folder for folder in reversed(below) if covered(folder)), file))
    return sorted(result)


def stage_entries(root: Path) -> dict[str, Path]:
    """Each stage (or stage group) of dvc.yaml -> the entry module its cmd runs."""
    import yaml

    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    entries = {}
    for name, spec in stages.items():
        cmd = spec.get("do", spec)["cmd"]
        entries[name] = root / next(word for word in cmd.split() if word.startswith("stages/"))
    return entries


def written_deps(root: Path) -> dict[str, list[str]]:
    """Per stage, the library deps its closure calls for, as dvc.yaml writes them."""
    src = root / "src"
    return {
        name: [p.relative_to(root).as_posix() for p in compact(src, closure(src, entry))]
        for name, entry in stage_entries(root).items()
    }


_STAGE = re.compile(r"^  ([A-Za-z_][\w-]*):\s*(#.*)?$")


def rewrite(text: str, deps: dict[str, list[str]]) -> tuple[str, list[str]]:
    """dvc.yaml's text with the lines below each stage's marker replaced by its deps; and the stages
    whose lines changed. A stage without the marker is an error naming it."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    changed, seen, stage, k = [], set(), None, 0
    while k < len(lines):
        line = lines[k]
        found = _STAGE.match(line)
        if found:
            stage = found.group(1)
        out.append(line)
        k += 1
        if line.strip() == MARKER and stage in deps:
            indent = line[: len(line) - len(line.lstrip())]
            old = []
            while k < len(lines) and re.match(rf"^{indent}- src/", lines[k]):
                old.append(lines[k])
                k += 1
            new = [f"{indent}- {dep}\n" for dep in deps[stage]]
            out += new
            seen.add(stage)
            if new != old:
                changed.append(stage)
    missing = sorted(set(deps) - seen)
    if missing:
        raise DataError("dvc.yaml", f"no {MARKER!r} line in the deps of stage {missing[0]}")
    return "".join(out), changed


def rerun_counts(root: Path) -> dict[str, int]:
    """Per library file, how many stages of the expanded DAG (every foreach item) list it as a
    dep, file or folder: the stages `dvc repro` reruns when it is edited."""
    from dvc.repo import Repo

    src = root / "src" / PACKAGE
    with Repo(str(root)) as repo:
        stages = [
            [Path(dep.def_path) for dep in stage.deps if str(dep.def_path).startswith("src/")]
            for stage in repo.index.stages
        ]
    counts = {}
    for file in _package_files(root / "src"):
        name = file.relative_to(root)
        counts[file.relative_to(src).as_posix()] = sum(
            any(dep == name or dep in name.parents for dep in deps) for deps in stages
        )
    return counts
