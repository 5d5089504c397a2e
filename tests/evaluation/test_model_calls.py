"""The fast scoring paths against one-sequence-at-a-time references on a random tiny LLaMA."""

import random

import pytest
import torch

from doit_study.evaluation.model_calls import (
    continuation_nll,
    continuation_nll_naive,
    generate_greedy,
    next_token_logprobs,
    prefix_batches,
)
from doit_study.modeling.chat import chat_ids
from tests.helpers import tiny_llama


@pytest.fixture(scope="module")
def model_and_tokenizer(tokenizer):
    return tiny_llama(tokenizer, seed=3).eval(), tokenizer


def _random_ids(rng, tokenizer, low, high):
    special = set(chat_ids(tokenizer).__dict__.values())
    vocab = [i for i in range(len(tokenizer)) if i not in special]
    return [rng.choice(vocab) for _ in range(rng.randint(low, high))]


def test_prefix_reuse_equals_the_naive_computation(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    rng = random.Random(0)
    prompts = [_random_ids(rng, tokenizer, 3, 40) for _ in range(13)]
    choices = [[_random_ids(rng, tokenizer, 1, 25) for _ in range(rng.choice([2, 3, 4]))] for _ in prompts]
    naive = continuation_nll_naive(model, prompts, choices)
    for budget in (16, 200, 10_000):  # one item per batch, a few, all at once
        fast = continuation_nll(model, prompts, choices, chat_ids(tokenizer).pad, budget)
        for fast_item, naive_item in zip(fast, naive, strict=True):
            assert fast_item == pytest.approx(naive_item, rel=1e-4)


def test_prefix_batches_count_the_prompts_in_the_token_budget():
    # long prompts with one short choice each (a gold-answer loss): the prompts are most of the batch
    rng = random.Random(1)
    prompts = [rng.randint(50, 250) for _ in range(200)]
    choices = [[rng.randint(1, 3)] for _ in prompts] + [
        [rng.randint(5, 90) for _ in range(3)] for _ in range(50)
    ]
    prompts += [rng.randint(5, 120) for _ in range(50)]
    batches = list(prefix_batches(prompts, choices, budget=1024))
    assert sorted(i for batch in batches for i in batch) == list(range(len(prompts)))
    for batch in batches:
        padded_tokens = len(batch) * max(prompts[i] for i in batch) + sum(
            len(choices[i]) for i in batch
        ) * max(c for i in batch for c in choices[i])
        assert padded_tokens <= 1024 or len(batch) == 1
    assert max(len(batch) for batch in batches) > 1


def test_next_token_scores_do_not_depend_on_batching(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    rng = random.Random(1)
    prompts = [_random_ids(rng, tokenizer, 2, 30) for _ in range(9)]
    candidates = [5, 6, 7, 8]
    batched = next_token_logprobs(model, prompts, candidates, chat_ids(tokenizer).pad, batch_size=4)
    with torch.inference_mode():
        for prompt, scores in zip(prompts, batched, strict=True):
            logits = model(input_ids=torch.tensor([prompt])).logits[0, -1]
            expected = torch.log_softmax(logits, -1)[candidates].tolist()
            assert scores == pytest.approx(expected, rel=1e-4, abs=1e-5)


def _greedy_one(model, prompt, budget, stops):
    ids = list(prompt)
    with torch.inference_mode():
        for _ in range(budget):
            token = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if token in stops:
                break
            ids.append(token)
    return ids[len(prompt) :]


def test_batched_greedy_generation_matches_one_prompt_at_a_time(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = chat_ids(tokenizer)
    rng = random.Random(2)
    prompts = [_random_ids(rng, tokenizer, 2, 30) for _ in range(10)]
    budgets = [rng.choice([1, 4, 12]) for _ in prompts]
    stops = [ids.end_of_turn, ids.user, ids.assistant]
    outputs, _ = generate_greedy(model, prompts, budgets, stops, ids.pad, batch_size=4, min_new_tokens=0)
    for prompt, budget, output in zip(prompts, budgets, outputs, strict=True):
        assert len(output) <= budget and not set(output) & set(stops)
        assert output == _greedy_one(model, prompt, budget, stops)


def test_generation_stops_at_the_end_of_turn(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = chat_ids(tokenizer)
    prompt = [ids.user, 10, 11, ids.end_of_turn, ids.assistant]
    first = _greedy_one(model, prompt, 1, stops=[])[0]
    # declare the model's own first token a stop token: nothing may be returned
    assert generate_greedy(model, [prompt], [8], [first], ids.pad, batch_size=1) == ([[]], [[]])


def test_min_new_tokens_forbids_an_empty_answer(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = chat_ids(tokenizer)
    prompt = [ids.user, 10, 11, ids.end_of_turn, ids.assistant]
    first = _greedy_one(model, prompt, 1, stops=[])[0]
    [output], _ = generate_greedy(model, [prompt], [8], [first], ids.pad, batch_size=1, min_new_tokens=1)
    assert len(output) >= 1 and output[0] != first


def test_first_token_scores_do_not_depend_on_batching_or_on_min_new_tokens(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    ids = chat_ids(tokenizer)
    rng = random.Random(4)
    prompts = [_random_ids(rng, tokenizer, 2, 30) for _ in range(7)]
    stops, scored = [ids.end_of_turn, ids.user, ids.assistant], [5, 6, 7, ids.end_of_turn]
    _, alone = generate_greedy(
        model, prompts, [3] * 7, stops, ids.pad, 1, min_new_tokens=0, scored_tokens=scored
    )
    _, batched = generate_greedy(
        model, prompts, [3] * 7, stops, ids.pad, 4, min_new_tokens=2, scored_tokens=scored
    )
    reference = next_token_logprobs(model, prompts, scored, ids.pad, batch_size=3)
    for one, many, ref in zip(alone, batched, reference, strict=True):
        assert one == pytest.approx(ref, abs=1e-5) and many == pytest.approx(ref, abs=1e-5)
