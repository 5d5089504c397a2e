"""The model judge's two clients, one contract (`complete(list of chat messages) -> list of
texts`): a local Hugging Face model folder (in process, greedy) or an OpenAI-compatible chat
endpoint (vLLM, TGI, `transformers serve`, a hosted API) through the `openai` client, with retries
and back-off and the key read from an environment variable only."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from doit_study.core.redact import redact_url


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
            shown = redact_url(self.url)
            raise ConnectionError(f"judge endpoint {shown} does not answer: {error}") from None

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
        from doit_study.modeling.folders import (
            folder_hash,
            load_causal_lm,
            load_tokenizer,
            placed_for_inference,
        )

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
        from doit_study.core.schema import Message
        from doit_study.modeling.chat import encode_prompt

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

        from doit_study.evaluation.model_calls import generate_greedy
        from doit_study.modeling.chat import chat_ids

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
