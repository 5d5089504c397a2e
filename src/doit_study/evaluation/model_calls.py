"""Model-side scoring: batched greedy generation, continuation perplexity with prefix reuse, and
next-token letter scores. Token ids in, numbers out; what they mean is `evaluation`'s business.

Batches are formed from a length-sorted order (ties keep input order), so results never depend on
the order items arrive in beyond that stable sort, and two runs give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch

Ids = list[int]


def _length_sorted_batches(keys: Sequence, batch_size: int) -> Iterator[list[int]]:
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def padded(
    sequences: Sequence[Ids], pad_id: int, side: str, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of sequences padded to one width on the `side` ("left" or "right"),
    on `device` (the model's)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        span = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, span] = torch.tensor(seq, dtype=torch.long)
        mask[row, span] = 1
    return ids.to(device), mask.to(device)


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that ignore left padding: the first real token is position 0."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


class _AnswerStart:
    """A logits processor for the answer's first positions: it keeps the log-probabilities of some
    tokens at the first one (the scores the authors' `choice_parse_mode` reads), computed from the
    model's raw scores, and forbids the stop tokens until the answer has `min_new_tokens` tokens."""

    def __init__(
        self, prompt_width: int, token_ids: Sequence[int], stop_ids: Sequence[int], min_new_tokens: int
    ):
        self.prompt_width, self.token_ids, self.first = prompt_width, list(token_ids), None
        self.stop_ids, self.min_new_tokens = list(stop_ids), min_new_tokens

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self.first is None and self.token_ids:
            self.first = torch.log_softmax(scores.float(), dim=-1)[:, self.token_ids].cpu()
        if input_ids.shape[1] - self.prompt_width < self.min_new_tokens:
            scores = scores.clone()
            scores[:, self.stop_ids] = float("-inf")
        return scores


@torch.inference_mode()
def generate_greedy(
    model,
    prompts: Sequence[Ids],
    max_new_tokens: Sequence[int],
    stop_ids: Sequence[int],
    pad_id: int,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
    min_new_tokens: int = 0,
    scored_tokens: Sequence[int] = (),
) -> tuple[list[Ids], list[list[float]]]:
    """Greedy continuation of every prompt with a KV cache, in left-padded batches; each output is
    cut before its first stop token and at its own token budget. With `min_new_tokens`, stop tokens
    are suppressed until that many tokens exist (no empty answers). Also returns, per prompt, the
    log-probabilities of `scored_tokens` as the first answer token (empty lists when none asked)."""
    from transformers import GenerationConfig, LogitsProcessorList

    stops = sorted(set(stop_ids))
    outputs: list[Ids] = [[] for _ in prompts]
    first: list[list[float]] = [[] for _ in prompts]
    keys = [(max_new_tokens[i], len(p)) for i, p in enumerate(prompts)]  # one budget per batch
    for batch in _length_sorted_batches(keys, batch_size):
        ids, mask = padded([prompts[i] for i in batch], pad_id, "left", model.device)
        budget = max(max_new_tokens[i] for i in batch)
        config = GenerationConfig(
            do_sample=False, max_new_tokens=budget, eos_token_id=stops, pad_token_id=pad_id, use_cache=True
        )
        start = _AnswerStart(ids.shape[1], scored_tokens, stops, min_new_tokens)
        generated = model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            logits_processor=LogitsProcessorList([start]),
        )
        for row, index in enumerate(batch):
            tokens = generated[row, ids.shape[1] :].tolist()[: max_new_tokens[index]]
            cut = next((k for k, token in enumerate(tokens) if token in stops), len(tokens))
            outputs[index] = tokens[:cut]
            if scored_tokens:
                first[index] = start.first[row].tolist()
        if on_batch:
            on_batch(len(batch))
    return outputs, first


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def prefix_batches(
    prompt_lengths: Sequence[int], choice_lengths: Sequence[Sequence[int]], budget: int
) -> Iterator[list[int]]:
    """Item batches for prefix reuse, in order of (longest choice, prompt length), each holding at
    most `budget` padded tokens (at least one item): its prompts, left-padded to the longest, plus
    every choice row, right-padded to the longest choice."""
    longest = [max(lengths) for lengths in choice_lengths]
    order = sorted(range(len(prompt_lengths)), key=lambda i: (longest[i], prompt_lengths[i]))
    batch: list[int] = []
    n_rows = prompt_width = choice_width = 0
    for index in order:
        rows = n_rows + len(choice_lengths[index])
        prompts = max(prompt_width, prompt_lengths[index])
        choices = max(choice_width, longest[index])
        if batch and (len(batch) + 1) * prompts + rows * choices > budget:
            yield batch
            batch, rows = [], len(choice_lengths[index])
            prompts, choices = prompt_lengths[index], longest[index]
        batch.append(index)
        n_rows, prompt_width, choice_width = rows, prompts, choices
    if batch:
        yield batch


@torch.inference_mode()
def continuation_nll(
    model,
    prompts: Sequence[Ids],
    choices: Sequence[Sequence[Ids]],
    pad_id: int,
    token_budget: int,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """Mean negative log-likelihood of each choice's tokens given its item's prompt.

    Prefix reuse: a batch of prompts is run once (left-padded) and its KV cache is repeated for
    the item's choices, which then run together (right-padded) on top of it. Items are sorted by
    their longest choice and batched under a budget of padded tokens (prompts and choices); the
    output layer is applied only to the positions that are scored.
    """
    decoder, head, device = model.get_decoder(), model.get_output_embeddings(), model.device
    result: list[list[float]] = [[] for _ in prompts]
    n_choices = [len(options) for options in choices]
    lengths = [[len(c) for c in options] for options in choices]
    for batch in prefix_batches([len(p) for p in prompts], lengths, token_budget):
        ids, mask = padded([prompts[i] for i in batch], pad_id, "left", device)
        prefix = decoder(input_ids=ids, attention_mask=mask, position_ids=_positions(mask), use_cache=True)
        per_item = torch.tensor([n_choices[i] for i in batch], device=device)
        rows = torch.repeat_interleave(torch.arange(len(batch), device=device), per_item)
        cache = prefix.past_key_values
        cache.reorder_cache(rows)  # one copy of the item's prompt state per choice
        cont, cont_mask = padded([c for i in batch for c in choices[i]], pad_id, "right", device)
        starts = mask.sum(-1)[rows].unsqueeze(-1)
        hidden = decoder(
            input_ids=cont,
            attention_mask=torch.cat([mask[rows], cont_mask], dim=-1),
            position_ids=starts + torch.arange(cont.shape[1], device=device),
            past_key_values=cache,
            use_cache=True,
        ).last_hidden_state
        # the prompt's last position predicts each choice's first token
        predicting = torch.cat([prefix.last_hidden_state[rows, -1:], hidden[:, :-1]], dim=1)
        scored = cont_mask.bool()
        logp = token_logprobs(head(predicting[scored]), cont[scored])
        row_of = torch.arange(len(rows), device=device).unsqueeze(-1).expand_as(cont)[scored]
        nll_sum = torch.zeros(len(rows), dtype=torch.float64, device=device)
        nll_sum.index_add_(0, row_of, -logp.double())
        mean_nll = (nll_sum / cont_mask.sum(-1)).tolist()
        position = 0
        for index in batch:
            result[index] = mean_nll[position : position + n_choices[index]]
            position += n_choices[index]
        if on_batch:
            on_batch(len(batch))
    return result


@torch.inference_mode()
def continuation_nll_naive(
    model, prompts: Sequence[Ids], choices: Sequence[Sequence[Ids]]
) -> list[list[float]]:
    """The reference: every (prompt + choice) sequence on its own, batch of one, no cache."""
    result = []
    for prompt, options in zip(prompts, choices, strict=True):
        scores = []
        for choice in options:
            ids = torch.tensor([[*prompt, *choice]], device=model.device)
            logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
            scores.append(-token_logprobs(logits, torch.tensor(choice, device=model.device)).mean().item())
        result.append(scores)
    return result


@torch.inference_mode()
def next_token_logprobs(
    model,
    prompts: Sequence[Ids],
    candidates: Sequence[int],
    pad_id: int,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[float]]:
    """Log-probabilities of the candidate tokens (e.g. the letters A-D) right after each prompt."""
    result: list[list[float]] = [[] for _ in prompts]
    wanted = torch.tensor(list(candidates), device=model.device)
    for batch in _length_sorted_batches([len(p) for p in prompts], batch_size):
        ids, mask = padded([prompts[i] for i in batch], pad_id, "left", model.device)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask)).logits[:, -1]
        logp = torch.log_softmax(logits.float(), dim=-1)[:, wanted]
        for row, index in enumerate(batch):
            result[index] = logp[row].tolist()
        if on_batch:
            on_batch(len(batch))
    return result
