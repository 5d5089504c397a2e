from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from doit_study.config import load_params
from doit_study.modeling import TinyLlama, new_tiny_llama
from doit_study.schema import AnswerKind, Item, Message, Source
from doit_study.tokenizer_training import train_tokenizer
from doit_study.workspace import copy_without_outputs

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# One tiny LLaMA shape and one tokenizer for every test that runs a model: a byte-level BPE (it
# encodes any text) trained on arithmetic questions, a poem and an option list.
TINY = TinyLlama(hidden_size=32, layers=2, heads=4, intermediate_size=64, max_position_embeddings=256)
PAIRS = [
    (f"第{i}题：{a}加{b}等于几？", f"{a}加{b}等于{a + b}。")
    for i, (a, b) in enumerate(
        [(1, 2), (3, 4), (5, 6), (7, 8), (2, 9), (4, 4), (6, 1), (8, 3), (9, 9), (5, 5), (3, 3), (1, 7)]
    )
]
CORPUS = [
    *(q + a for q, a in PAIRS),
    *(f"第{i}句：春眠不觉晓，处处闻啼鸟。{i * 7}夜来风雨声，花落知多少。" for i in range(12)),
    "细胞中储存遗传信息的是：\nA. 核糖体\nB. DNA\nC. 线粒体\nD. 高尔基体\n答案：B 正确 错误",
]


@pytest.fixture(scope="session")
def tokenizer():
    """The tests' tokenizer (with the chat tokens), trained once per session."""
    return train_tokenizer(CORPUS * 5, vocab_size=300)


def tiny_llama(tokenizer, seed: int = 0):
    """A freshly initialised tiny LLaMA of the shared shape."""
    return new_tiny_llama(TINY, tokenizer, seed=seed)


# a four-option question whose gold is B
FOUR = "细胞中储存遗传信息的是：\nA. 核糖体\nB. DNA\nC. 线粒体\nD. 高尔基体\n请选出正确的一项。"


@pytest.fixture(scope="module")
def tiny(tokenizer):
    """A tiny random Llama in eval mode and its tokenizer."""
    return tiny_llama(tokenizer, seed=0).eval(), tokenizer


def make(
    prompt: str,
    gold: str,
    ability: str = "biology",
    kind: AnswerKind = AnswerKind.letter,
    fmt: int = 0,
    **extra,
) -> Item:
    return Item(
        messages=[Message(role="user", content=prompt), Message(role="assistant", content=gold)],
        type=ability,
        question_format=fmt,
        answer_kind=kind,
        source=Source(name="test", version="0", key=prompt[:20]),
        **extra,
    )


def smoke_group(group: str, **overrides):
    """A params group of the smoke profile with some fields replaced (every key is required)."""
    base = getattr(load_params(REPO / "profiles/smoke.yaml"), group)
    return type(base).model_validate(base.model_dump() | overrides)


@pytest.fixture
def release_dir() -> Path:
    return FIXTURES / "doit_release"


# End to end: `dvc repro` of the smoke profile in temporary copies of the repository, made once per
# test session and shared by the pipeline and sharing tests.
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    "DVC_NO_ANALYTICS": "1",
    "DOIT_STUDY_WARM_IDLE": "30",  # warm stage servers leave soon after the last test that used them
    # one thread per process: the two smoke runs go side by side, and every later rerun uses the
    # same thread count as the runs it is compared with
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # experiments commit to git refs: an identity that does not depend on the machine's git config
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
}


def sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def copy_with_smoke_profile(target: Path) -> Path:
    return copy_without_outputs(REPO, target, REPO / "profiles/smoke.yaml")


def dispatch_command(*flags: str) -> list[str]:
    return [sys.executable, "-m", "doit_study", "dispatch", *flags]


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
