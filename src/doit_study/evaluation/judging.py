"""The model judge's verdicts on open-ended answers (LIMIT's second paradigm), in the style of
MT-Bench's pairwise judge with a reference and AlpacaEval's win rate: each candidate answer is
compared with the reference answer (or with another setting's answer) twice, once in each position,
to cancel the judge's position bias; ties are allowed; a verdict is read only when it says exactly
one of [[A]], [[B]] or [[C]], and an unparsable verdict is counted and reported, never guessed. Every
request goes through a cache keyed by the judge and the prompt, so a rerun costs nothing.

The judges themselves (a local model, an OpenAI-compatible endpoint) are `evaluation.judge_clients`;
this module imports no model code, so the analysis can read the verdicts' scores."""

from __future__ import annotations

import hashlib
import json
import math
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
