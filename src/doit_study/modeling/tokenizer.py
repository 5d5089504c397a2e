"""A byte-level BPE tokenizer trained on the raw corpus (the offline foundation models' tokenizer).

Byte-level BPE covers every UTF-8 string, so Chinese text (and code, and emoji) decodes back to
exactly what was encoded.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from doit_study.modeling.chat import CHAT_TEMPLATE, CHAT_TOKENS, PAD_TOKEN

BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    special = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, *CHAT_TOKENS]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=list(CHAT_TOKENS),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
