"""Chat formatting and loss masking (the paper's protocol, Appendix A.1).

Each turn is encoded as: role token, content, end-of-turn token. The loss covers only assistant
content and its end-of-turn token, for every assistant turn of a dialogue; user turns and role
tokens are context. A sequence starts with what the model's tokenizer puts before any text (BOS for
LLaMA and Gemma, nothing for GPT-2-style tokenizers and the tiny models), as in its pretraining.
"""

from __future__ import annotations

from dataclasses import dataclass

from doit_study.core.schema import Message

USER_TOKEN = "<user>"
ASSISTANT_TOKEN = "<assistant>"
END_OF_TURN = "<eot>"
PAD_TOKEN = "<pad>"
CHAT_TOKENS = (USER_TOKEN, ASSISTANT_TOKEN, END_OF_TURN)
IGNORE_INDEX = -100  # labels with this value carry no loss (the PyTorch / transformers convention)
# The same format as a Jinja chat template, saved with the tokenizer, so that standard tools
# (`transformers chat`, `transformers serve`, vLLM) prompt these models as the stages do; a system
# message is a user turn (the format has no system role). tests/modeling/test_chat.py checks the equality.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}" + ASSISTANT_TOKEN + "{% else %}" + USER_TOKEN + "{% endif %}"
    "{{ message['content'] }}" + END_OF_TURN + "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT_TOKEN + "{% endif %}"
)


def chat_template(tokenizer) -> str:
    """CHAT_TEMPLATE after the tokenizer's own prefix (BOS where it adds one): a chat template is
    rendered without the tokenizer's special tokens, so the prefix is written into it."""
    prefix = tokenizer.convert_ids_to_tokens(list(special_prefix(tokenizer)))
    return "".join(prefix) + CHAT_TEMPLATE


def generation_stops(tokenizer) -> list[int]:
    """What a saved model's generation config stops at: the end of a turn, and the model's own end
    of sequence (so `transformers serve`, `chat` and vLLM stop where the stages' answers end)."""
    end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    return [end_of_turn] + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])


def add_chat_tokens(tokenizer) -> int:
    """Add the speaker, end-of-turn and (if missing) pad tokens; return how many were new.
    The caller resizes the model's embeddings when the count is non-zero."""
    added = tokenizer.add_special_tokens({"additional_special_tokens": list(CHAT_TOKENS)})
    if tokenizer.pad_token is None:
        added += tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return added


@dataclass(frozen=True)
class ChatIds:
    user: int
    assistant: int
    end_of_turn: int
    pad: int
    prefix: tuple[int, ...] = ()  # what the tokenizer puts before a text (BOS), see special_prefix


def special_prefix(tokenizer) -> tuple[int, ...]:
    """The ids the tokenizer adds before a text of its own accord (`add_bos_token` and friends, or a
    post-processor): found by encoding a probe with and without special tokens, so whatever the
    tokenizer is configured to do is what the stages do."""
    plain = tokenizer.encode("a", add_special_tokens=False)
    full = tokenizer.encode("a", add_special_tokens=True)
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return tuple(full[:start])
    raise ValueError("the tokenizer's special tokens change the text's own tokens")


def chat_ids(tokenizer) -> ChatIds:
    ids = tokenizer.convert_tokens_to_ids([USER_TOKEN, ASSISTANT_TOKEN, END_OF_TURN])
    if (tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids) or None in ids:
        raise ValueError("the tokenizer lacks the chat tokens: call add_chat_tokens first")
    return ChatIds(*ids, pad=tokenizer.pad_token_id, prefix=special_prefix(tokenizer))


@dataclass(frozen=True)
class Encoded:
    """One training dialogue as token ids, and what fitting it into max_length cost."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False  # longer than max_length
    prompt_cut: bool = False  # its head kept no answer token, so its prompt was cut from the left


def truncation_counts(encoded: list[Encoded]) -> tuple[int, int]:
    """(items max_length truncated, items of those whose prompt was cut from the left)."""
    return sum(e.truncated for e in encoded), sum(e.prompt_cut for e in encoded)


def encode_dialogue(tokenizer, messages: list[Message], max_length: int) -> Encoded:
    """Input ids and labels for one dialogue. A dialogue over max_length keeps its first max_length
    tokens; when those hold no answer token, it keeps its last ones instead (after the prefix): an
    example with nothing to learn would count as data while training on nothing."""
    ids = chat_ids(tokenizer)
    input_ids: list[int] = list(ids.prefix)
    labels: list[int] = [IGNORE_INDEX] * len(ids.prefix)
    for message in messages:
        content = tokenizer.encode(message.content, add_special_tokens=False)
        if message.role == "user":
            turn = [ids.user, *content, ids.end_of_turn]
            input_ids += turn
            labels += [IGNORE_INDEX] * len(turn)
        else:
            input_ids += [ids.assistant, *content, ids.end_of_turn]
            labels += [IGNORE_INDEX, *content, ids.end_of_turn]
    if len(input_ids) <= max_length:
        return Encoded(input_ids, labels)
    if any(label != IGNORE_INDEX for label in labels[:max_length]):
        return Encoded(input_ids[:max_length], labels[:max_length], truncated=True)
    keep = max_length - len(ids.prefix)
    if keep < 1:
        raise ValueError(f"max_length {max_length} leaves no room after the {len(ids.prefix)} prefix tokens")
    head = list(ids.prefix)
    tail_ids, tail_labels = input_ids[-keep:], labels[-keep:]
    if all(label == IGNORE_INDEX for label in tail_labels):  # the dialogue does not end with an answer
        raise ValueError("a dialogue over max_length keeps no answer token at either end")
    return Encoded(head + tail_ids, [IGNORE_INDEX] * len(head) + tail_labels, truncated=True, prompt_cut=True)


def encode_prompt(tokenizer, messages: list[Message]) -> list[int]:
    """The context a model answers from: the tokenizer's prefix, every turn but the last assistant
    one, then the assistant token (used for generation and for scoring continuations)."""
    ids = chat_ids(tokenizer)
    context = messages[:-1] if messages and messages[-1].role == "assistant" else messages
    prompt: list[int] = list(ids.prefix)
    for message in context:
        role = ids.user if message.role == "user" else ids.assistant
        prompt += [role, *tokenizer.encode(message.content, add_special_tokens=False), ids.end_of_turn]
    return [*prompt, ids.assistant]
