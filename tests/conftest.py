"""The tests' fixtures, shared by every layer's tests; plain helpers are in tests/helpers.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from doit_study.modeling.tokenizer import train_tokenizer
from doit_study.pipeline.workspace import copy_without_outputs
from tests.helpers import CORPUS, ENV, FIXTURES, REPO, dispatch_command, tiny_llama


@pytest.fixture(scope="session")
def tokenizer():
    """The tests' tokenizer (with the chat tokens), trained once per session."""
    return train_tokenizer(CORPUS * 5, vocab_size=300)


@pytest.fixture(scope="module")
def tiny(tokenizer):
    """A tiny random Llama in eval mode and its tokenizer."""
    return tiny_llama(tokenizer, seed=0).eval(), tokenizer


@pytest.fixture
def release_dir() -> Path:
    return FIXTURES / "doit_release"


@pytest.fixture(scope="session")
def smoke_repros(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Clean builds side by side, each (root, its output): the smoke study by `dvc repro` and again
    by the dispatch driver, two stages at once through submitit's local executor (independent
    runs, compared byte for byte), the release-format smoke study, and the FLAN and LIMIT designs'
    smoke studies by `dvc repro`."""
    profiles = {
        "first": "smoke",
        "second": "smoke",
        "release": "smoke-release",
        "flan": "smoke-flan",
        "limit": "smoke-limit",
    }
    commands = {name: ["dvc", "repro"] for name in profiles}
    commands["second"] = dispatch_command("--executor", "local", "--jobs", "2")
    roots = {
        name: copy_without_outputs(REPO, tmp_path_factory.mktemp(name), REPO / f"profiles/{profile}.yaml")
        for name, profile in profiles.items()
    }
    runs = {
        name: subprocess.Popen(
            commands[name], cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name, root in roots.items()
    }
    outputs = {name: run.communicate(timeout=2400)[0] for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, f"{' '.join(commands[name])} in {roots[name]}\n{outputs[name]}"
    return {name: (roots[name], outputs[name]) for name in roots}


@pytest.fixture(scope="session")
def smoke_runs(smoke_repros) -> tuple[Path, Path]:
    """Two independent clean runs of the smoke study, side by side: `dvc repro`, and the dispatch
    driver with two stages at once."""
    return smoke_repros["first"][0], smoke_repros["second"][0]


@pytest.fixture(scope="session")
def smoke_run(smoke_runs) -> Path:
    return smoke_runs[0]


@pytest.fixture(scope="session")
def smoke_rerun(smoke_runs) -> Path:
    """The second clean run (the one the sharing tests publish)."""
    return smoke_runs[1]


@pytest.fixture(scope="session")
def release_run(smoke_repros) -> Path:
    """The whole pipeline on the release-format fixture (profiles/smoke-release.yaml)."""
    return smoke_repros["release"][0]


@pytest.fixture(scope="session")
def flan_run(smoke_repros) -> Path:
    """FLAN's design on the smoke data (profiles/smoke-flan.yaml)."""
    return smoke_repros["flan"][0]


@pytest.fixture(scope="session")
def limit_run(smoke_repros) -> Path:
    """LIMIT's design on the smoke data, judged by the largest foundation (profiles/smoke-limit.yaml)."""
    return smoke_repros["limit"][0]
