"""Benchmark questions scored by the next-token log-probabilities of the letters A-D."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from doit_study.core.files import DataError
from doit_study.core.schema import Message
from doit_study.evaluation.continuous import option_probability
from doit_study.evaluation.model_calls import next_token_logprobs
from doit_study.items.benchmarks import LETTERS, Question, exemplars_by_subject, prompt_text
from doit_study.modeling.chat import chat_ids, encode_prompt


def score_benchmark(
    model,
    tokenizer,
    questions: Sequence[Question],
    shots: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """Per test question: the letter with the highest next-token log-probability after the chat
    prompt (k exemplars from the subject's dev split), whether it is the answer, and the answer's
    probability among the four letters (its continuous score; chance 0.25)."""
    pad = chat_ids(tokenizer).pad
    letter_ids = [tokenizer.encode(letter, add_special_tokens=False)[0] for letter in LETTERS]
    if len(set(letter_ids)) != len(LETTERS):
        raise DataError(tokenizer.name_or_path, "the tokenizer does not tell the letters A-D apart")
    dev = exemplars_by_subject(questions)
    scored = [q for q in questions if q.split == "test"]
    prompts = [
        encode_prompt(
            tokenizer,
            [Message(role="user", content=prompt_text(q, dev.get((q.suite, q.subject), [])[:shots]))],
        )
        for q in scored
    ]
    logprobs = next_token_logprobs(model, prompts, letter_ids, pad, batch_size, progress)
    results = []
    for question, scores in zip(scored, logprobs, strict=True):
        chosen = LETTERS[max(range(len(LETTERS)), key=lambda k: scores[k])]
        gold_probability = option_probability(dict(zip(LETTERS, scores, strict=True)), question.answer)
        results.append(
            {
                "id": question.id,
                "suite": question.suite,
                "subject": question.subject,
                "answer": question.answer,
                "chosen": chosen,
                "correct": chosen == question.answer,
                "continuous": gold_probability,
            }
        )
    return results
