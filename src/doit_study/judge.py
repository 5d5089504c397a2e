"""A model judge for open-ended answers (LIMIT's second paradigm), in the style of MT-Bench's pairwise
judge with a reference and AlpacaEval's win rate: each candidate answer is compared with the
reference answer (or with another setting's answer) twice, once in each position, to cancel the
judge's position bias; ties are allowed; a verdict is read only when it says exactly one of [[A]],
[[B]] or [[C]], and an unparsable verdict is counted and reported, never guessed.

Two judges, one contract (`complete(list of chat messages) -> list of texts`): a local Hugging Face
model folder (in process, greedy) or an OpenAI-compatible chat endpoint (vLLM, TGI, `transformers
serve`, a hosted API) through the `openai` client, with retries and back-off and the key read from
an environment variable only. Every request goes through a cache keyed by the judge and the prompt,
so a rerun costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VERDICT = re.compile(r"\[\[([ABC])\]\]")
SCORE = {"win": 1.0, "tie": 0.5, "inconsistent": 0.5, "loss": 0.0}  # inconsistent orders: a tie

SYSTEM = (
    "You are an impartial judge. Compare the two answers, A and B, that two assistants gave to the "
    "user's question below, and decide which one answers it better: correct, helpful, relevant and "
    "complete. The order in which the answers appear must not influence you, nor their length. "
    "Explain your decision briefly, then give your verdict on the last line in exactly this form: "
    '"[[A]]" if A is better, "[[B]]" if B is better, "[[C]]" if they are equally good.'
)


def judge_messages(question: str, first: str, second: str) -> list[dict]:
    user = (
        f"[Question]\n{question}\n\n[The start of answer A]\n{first}\n[The end of answer A]\n\n"
        f"[The start of answer B]\n{second}\n[The end of answer B]"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    """ "A", "B" or "C" when the judge's text names exactly one of them in the verdict form."""
    found = set(VERDICT.findall(text))
    return found.pop() if len(found) == 1 else None


def outcome(candidate_first: str | None, candidate_second: str | None) -> str:
    """The candidate's result over both orders: it was answer A in the first and B in the second.
    win, loss or tie when the orders agree; inconsistent when they do not (a tie, as MT-Bench
    counts it); unparsable when either verdict could not be read."""
    if candidate_first is None or candidate_second is None:
        return "unparsable"
    first = {"A": "win", "B": "loss", "C": "tie"}[candidate_first]
    second = {"B": "win", "A": "loss", "C": "tie"}[candidate_second]
    return first if first == second else "inconsistent"


def win_rate(outcomes: Sequence[str], replicates: int, seed: int, level: float) -> dict:
    """Wins count 1, ties and inconsistent orders 0.5, losses 0, over the items whose verdicts were
    read; a percentile bootstrap over those items. Unparsable items are counted, not scored."""
    counts = {name: sum(o == name for o in outcomes) for name in (*SCORE, "unparsable")}
    scores = np.asarray([SCORE[o] for o in outcomes if o in SCORE])
    result: dict = {"items": len(outcomes), "judged": len(scores), **counts}
    if not len(scores):
        return result | {
            "win_rate": None,
            "interval": {"defined": False, "reason": "no verdict could be read"},
        }
    rng = np.random.default_rng(seed)
    means = scores[rng.integers(len(scores), size=(replicates, len(scores)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    interval = {
        "defined": True,
        "low": float(low),
        "high": float(high),
        "level": level,
        "replicates": replicates,
    }
    return result | {"win_rate": math.fsum(scores) / len(scores), "interval": interval}


class JudgeCache:
    """Judge responses on disk (JSON Lines, appended as they come, so a killed run keeps what it
    paid for), keyed by the judge's identity, its generation settings and the prompt."""

    def __init__(self, folder: Path, identity: str):
        self.path, self.identity = Path(folder) / "responses.jsonl", identity
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, str] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.entries[record["key"]] = record["response"]

    def key(self, messages: list[dict]) -> str:
        text = json.dumps([self.identity, messages], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def complete(self, judge, prompts: Sequence[list[dict]]) -> tuple[list[str], int]:
        """Responses for every prompt, asking the judge only for those not cached; and how many
        were asked."""
        keys = [self.key(messages) for messages in prompts]
        missing = sorted({k: i for i, k in enumerate(keys) if k not in self.entries}.values())
        if missing:
            answers = judge.complete([prompts[i] for i in missing])
            with self.path.open("a", encoding="utf-8") as handle:
                for index, answer in zip(missing, answers, strict=True):
                    self.entries[keys[index]] = answer
                    handle.write(
                        json.dumps({"key": keys[index], "response": answer}, ensure_ascii=False) + "\n"
                    )
        return [self.entries[k] for k in keys], len(missing)


@dataclass(frozen=True)
class Comparison:
    id: str
    question: str
    candidate: str
    other: str  # the reference answer, or another setting's answer


def judge_comparisons(comparisons: Sequence[Comparison], judge, cache: JudgeCache) -> tuple[list[dict], int]:
    """Every comparison judged in both orders; per item the prompts, raw verdicts, parsed verdicts
    and outcome (what is stored beside the predictions), and how many requests reached the judge."""
    prompts = []
    for c in comparisons:
        prompts += [
            judge_messages(c.question, c.candidate, c.other),
            judge_messages(c.question, c.other, c.candidate),
        ]
    responses, asked = cache.complete(judge, prompts)
    records = []
    for k, c in enumerate(comparisons):
        raw = responses[2 * k : 2 * k + 2]
        parsed = [parse_verdict(text) for text in raw]
        records.append(
            {
                "id": c.id,
                "prompts": prompts[2 * k : 2 * k + 2],
                "raw_verdicts": raw,
                "verdicts": parsed,
                "outcome": outcome(*parsed),
            }
        )
    return records, asked


class EndpointJudge:
    """An OpenAI-compatible chat endpoint: `url` is its base (…/v1), `model` the served name. The
    key is read from the environment variable `api_key_env` (none for a local server)."""

    def __init__(
        self, url: str, model: str, api_key_env: str | None, max_tokens: int, retries: int, timeout: float
    ):
        from openai import OpenAI

        key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.url, self.model, self.max_tokens = url, model, max_tokens
        self.client = OpenAI(base_url=url, api_key=key or "none", max_retries=retries, timeout=timeout)

    @property
    def identity(self) -> str:
        return f"endpoint {self.url} {self.model} max_tokens={self.max_tokens} temperature=0"

    def check(self) -> None:
        """Fail before any work, naming the URL, when the endpoint does not answer."""
        from openai import OpenAIError

        try:
            self.client.models.list()
        except OpenAIError as error:
            raise ConnectionError(f"judge endpoint {self.url} does not answer: {error}") from None

    def complete(self, prompts: Sequence[list[dict]]) -> list[str]:
        answers = []
        for messages in prompts:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, temperature=0, max_tokens=self.max_tokens
            )
            answers.append(response.choices[0].message.content or "")
        return answers


class LocalJudge:
    """A local Hugging Face model folder, in process: greedy answers of at most `max_tokens` new
    tokens. The prompt is the tokenizer's chat template when it has one, else this project's chat
    format (the system text leads the user turn). Safetensors only; remote code off unless asked."""

    def __init__(self, folder: Path, max_tokens: int, batch_size: int, trust_remote_code: bool = False):
        from doit_study.modeling import folder_hash, load_causal_lm, load_tokenizer, placed_for_inference

        self.folder, self.max_tokens, self.batch_size = Path(folder), max_tokens, batch_size
        self.tokenizer = load_tokenizer(folder, trust_remote_code=trust_remote_code)
        self.model = placed_for_inference(load_causal_lm(folder, dtype="float32"), None)
        self.sha256 = folder_hash(folder)

    @property
    def identity(self) -> str:
        return f"local {self.sha256} max_tokens={self.max_tokens} greedy"

    def check(self) -> None:
        return None  # loaded in __init__, which names the folder if it cannot be read

    def _prompt(self, messages: list[dict]) -> list[int]:
        from doit_study.chat import encode_prompt
        from doit_study.schema import Message

        if getattr(self.tokenizer, "chat_template", None):
            found = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
            return list(found["input_ids"])
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [m for m in messages if m["role"] != "system"]
        first = f"{system}\n\n{turns[0]['content']}" if system else turns[0]["content"]
        chat = [Message(role="user", content=first)] + [Message(**m) for m in turns[1:]]
        return encode_prompt(self.tokenizer, chat)

    def complete(self, prompts: Sequence[list[dict]]) -> list[str]:
        import torch

        from doit_study.chat import chat_ids
        from doit_study.scoring import generate_greedy

        ids = [self._prompt(messages) for messages in prompts]
        try:
            stops, pad = [chat_ids(self.tokenizer).end_of_turn], chat_ids(self.tokenizer).pad
        except ValueError:  # a model of another chat format: its own end of sequence
            stops, pad = (
                [self.tokenizer.eos_token_id],
                self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        with torch.no_grad():
            outputs, _ = generate_greedy(
                self.model, ids, [self.max_tokens] * len(ids), stops, pad, self.batch_size
            )
        return [self.tokenizer.decode(tokens, skip_special_tokens=True) for tokens in outputs]


def comparisons_for(answers: Sequence[dict], others: Sequence[dict] | None) -> list[Comparison]:
    """A setting's open answers against the reference answers, or against another setting's
    answers to the same items (matched by id; an item the other setting lacks is an error)."""
    if others is None:
        return [Comparison(a["id"], a["question"], a["output"], a["reference"]) for a in answers]
    by_id = {row["id"]: row["output"] for row in others}
    missing = [a["id"] for a in answers if a["id"] not in by_id]
    if missing:
        raise ValueError(f"the setting compared with has no answer to item {missing[0]}")
    return [Comparison(a["id"], a["question"], a["output"], by_id[a["id"]]) for a in answers]


def summarise_judgements(records: Sequence[dict], types: Sequence[str], bootstrap) -> dict:
    """The win rate with its interval over every judged item, and per set."""
    found = {
        "all": win_rate(
            [r["outcome"] for r in records], bootstrap.replicates, bootstrap.seed, bootstrap.level
        )
    }
    for name in sorted(set(types)):
        picked = [r["outcome"] for r, t in zip(records, types, strict=True) if t == name]
        found[name] = win_rate(picked, bootstrap.replicates, bootstrap.seed, bootstrap.level)
    return found


def flat_metrics(setting: str, summary: dict) -> dict[str, float | int]:
    """`<setting>.<set>.win_rate`, `.win_rate_low`, `.win_rate_high` and the counts, for DVC."""
    metrics = {}
    for name, entry in summary.items():
        prefix = f"{setting}.{name}"
        for key in ("win_rate", *SCORE, "unparsable", "judged", "items"):
            if entry.get(key) is not None:
                metrics[f"{prefix}.{key}"] = entry[key]
        if entry["interval"]["defined"]:
            metrics[f"{prefix}.win_rate_low"] = entry["interval"]["low"]
            metrics[f"{prefix}.win_rate_high"] = entry["interval"]["high"]
    return metrics
