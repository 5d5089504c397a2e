"""Chat formatting and loss masking (the paper's protocol, Appendix A.1).

Each turn is encoded as: role token, content, end-of-turn token. The loss covers only assistant
content and its end-of-turn token, for every assistant turn of a dialogue; user turns and role
tokens are context.
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


def chat_ids(tokenizer) -> ChatIds:
    ids = tokenizer.convert_tokens_to_ids([USER_TOKEN, ASSISTANT_TOKEN, END_OF_TURN])
    if (tokenizer.unk_token_id is not None and tokenizer.unk_token_id in ids) or None in ids:
        raise ValueError("the tokenizer lacks the chat tokens: call add_chat_tokens first")
    return ChatIds(*ids, pad=tokenizer.pad_token_id)


def encode_dialogue(tokenizer, messages: list[Message], max_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one dialogue, trimmed to max_length tokens from the end."""
    ids = chat_ids(tokenizer)
    input_ids: list[int] = []
    labels: list[int] = []
    for message in messages:
        content = tokenizer.encode(message.content, add_special_tokens=False)
        if message.role == "user":
            turn = [ids.user, *content, ids.end_of_turn]
            input_ids += turn
            labels += [IGNORE_INDEX] * len(turn)
        else:
            input_ids += [ids.assistant, *content, ids.end_of_turn]
            labels += [IGNORE_INDEX, *content, ids.end_of_turn]
    return input_ids[:max_length], labels[:max_length]


def encode_prompt(tokenizer, messages: list[Message]) -> list[int]:
    """The context a model answers from: every turn but the last assistant one, then the assistant
    token (used for generation and for scoring continuations)."""
    ids = chat_ids(tokenizer)
    context = messages[:-1] if messages and messages[-1].role == "assistant" else messages
    prompt: list[int] = []
    for message in context:
        role = ids.user if message.role == "user" else ids.assistant
        prompt += [role, *tokenizer.encode(message.content, add_special_tokens=False), ids.end_of_turn]
    return [*prompt, ids.assistant]
