"""What the tests share besides fixtures (those are in conftest.py): the repository's paths, one
tiny LLaMA shape and its corpus, item and params builders, and the environment and command helpers
of the end-to-end runs."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from doit_study.core.schema import ABILITIES, AnswerKind, Item, Message, Source
from doit_study.modeling.folders import TinyLlama, new_tiny_llama
from doit_study.params.foundation import PretrainedModel
from doit_study.params.study import load_params
from doit_study.pipeline.workspace import copy_without_outputs

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


def folder_source(path, trust_remote_code: bool = False) -> PretrainedModel:
    """A real model's params entry (`foundation.sizes.<size>`) for a local folder."""
    return PretrainedModel(
        path=str(path), gguf=None, trust_remote_code=trust_remote_code, local_files_only=True
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(folder, tmp_path):
    """`transformers serve` (FastAPI, OpenAI's API) over a local model folder on a free loopback
    port, offline; yields its base URL and stops it on leaving. The caller waits until it answers."""
    port = free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    (tmp_path / "hub").mkdir(exist_ok=True)
    cli = Path(sys.executable).parent / "transformers"
    command = [str(cli), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.terminate()
        server.wait(timeout=30)


def tiny_llama(tokenizer, seed: int = 0):
    """A freshly initialised tiny LLaMA of the shared shape."""
    return new_tiny_llama(TINY, tokenizer, seed=seed)


# a four-option question whose gold is B
FOUR = "细胞中储存遗传信息的是：\nA. 核糖体\nB. DNA\nC. 线粒体\nD. 高尔基体\n请选出正确的一项。"


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


# ---- the stage entry points as DVC runs them (the end-to-end tests) ----


def run_stage(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{name}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def user_jsonl_dir(root: Path, per_split=(24, 3, 3)) -> Path:
    for split, count in zip(("train", "valid", "test"), per_split, strict=True):
        (root / split).mkdir(parents=True)
        for ability in ABILITIES:
            lines = [
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": f"{ability} {split} 第{i}题\nA. 是\nB. 否"},
                            {"role": "assistant", "content": "A"},
                        ],
                        "type": ability,
                        "answer_kind": "letter",
                    },
                    ensure_ascii=False,
                )
                for i in range(count)
            ]
            (root / split / f"{ability}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def jsonl_params(tmp: Path, user_dir: Path, **expand) -> Path:
    params = yaml.safe_load((REPO / "profiles/smoke.yaml").read_text(encoding="utf-8"))
    params["data"] |= {"source": "jsonl", "jsonl": {"path": str(user_dir)}}
    params["expand"] |= {
        "pool": dict.fromkeys(ABILITIES, 24),
        "n_per_ability": [1, 4, 16],
        "single_ability_n": 16,
        "mixes": {"baseline": {"fixed": {}, "others": "fixed", "others_n": 16, "total": None}},
    } | expand
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


def fails_cleanly(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "Traceback" not in result.stderr
    for text in expected:
        assert text in line, line
