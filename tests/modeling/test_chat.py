import pytest

from doit_study.core.schema import Message
from doit_study.modeling.chat import (
    IGNORE_INDEX,
    add_chat_tokens,
    chat_ids,
    chat_template,
    encode_dialogue,
    encode_prompt,
)

TEXTS = [
    "画蛇添足：比喻做了多余的事，反而不恰当。",
    "def add(a, b):\n    return a + b",
    "你好，很高兴认识你。",
]


def _dialogue():
    return [
        Message(role="user", content="你好"),
        Message(role="assistant", content="你好，很高兴认识你。"),
        Message(role="user", content="画蛇添足是什么意思？"),
        Message(role="assistant", content="比喻做了多余的事。"),
    ]


def test_chinese_round_trips_exactly(tokenizer):
    for text in [*TEXTS, "罕见字：龘靐齉 ✓ 😀 \t tabs and  spaces"]:
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_loss_covers_only_assistant_content_and_its_end_of_turn(tokenizer):
    ids = chat_ids(tokenizer)
    encoded = encode_dialogue(tokenizer, _dialogue(), max_length=512)
    input_ids, labels = encoded.input_ids, encoded.labels
    assert not encoded.truncated and ids.prefix == ()  # the tiny tokenizer adds nothing before a text
    assert len(input_ids) == len(labels)
    trained = [token for token, label in zip(input_ids, labels, strict=True) if label != IGNORE_INDEX]
    expected = []
    for reply in ("你好，很高兴认识你。", "比喻做了多余的事。"):
        expected += [*tokenizer.encode(reply, add_special_tokens=False), ids.end_of_turn]
    assert trained == expected  # both assistant turns, nothing of the user turns or role tokens
    assert all(labels[i] in (IGNORE_INDEX, input_ids[i]) for i in range(len(labels)))
    assert input_ids.count(ids.user) == 2 and input_ids.count(ids.assistant) == 2


def test_truncation_keeps_the_start_while_it_holds_an_answer_token(tokenizer):
    full = encode_dialogue(tokenizer, _dialogue(), max_length=512)
    first_answer = next(i for i, label in enumerate(full.labels) if label != IGNORE_INDEX)
    short = encode_dialogue(tokenizer, _dialogue(), max_length=first_answer + 2)
    assert short.input_ids == full.input_ids[: first_answer + 2] and len(short.labels) == first_answer + 2
    assert short.truncated and not short.prompt_cut and set(short.labels) != {IGNORE_INDEX}


def test_an_item_whose_head_holds_no_answer_is_cut_from_the_left_of_its_prompt(tokenizer):
    ids = chat_ids(tokenizer)
    long_question = [
        Message(role="user", content="很长的问题。" * 30),
        Message(role="assistant", content="B"),
    ]
    full = encode_dialogue(tokenizer, long_question, max_length=10_000)
    cut = encode_dialogue(tokenizer, long_question, max_length=12)
    assert cut.truncated and cut.prompt_cut and len(cut.input_ids) == 12
    assert cut.input_ids == full.input_ids[-12:] and cut.labels[-1] == ids.end_of_turn
    assert [t for t in cut.labels if t != IGNORE_INDEX] == [t for t in full.labels if t != IGNORE_INDEX]


def test_a_long_dialogue_without_an_answer_at_its_end_is_refused(tokenizer):
    question_only = [Message(role="user", content="很长的问题。" * 30)]
    with pytest.raises(ValueError, match="keeps no answer token at either end"):
        encode_dialogue(tokenizer, question_only, max_length=12)


def test_a_tokenizer_that_adds_bos_gets_it_in_training_prompts_and_its_template(tokenizer, tmp_path):
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    bos = tokenizer.bos_token_id
    tokenizer.save_pretrained(tmp_path)  # a copy: the shared fixture stays as it is
    llama_like = AutoTokenizer.from_pretrained(tmp_path)
    processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    llama_like.backend_tokenizer.post_processor = processor
    assert llama_like("你好").input_ids[0] == bos  # as a LLaMA tokenizer with add_bos_token
    ids = chat_ids(llama_like)
    assert ids.prefix == (bos,)
    encoded = encode_dialogue(llama_like, _dialogue(), max_length=512)
    plain = encode_dialogue(tokenizer, _dialogue(), max_length=512)
    assert encoded.input_ids == [bos, *plain.input_ids] and encoded.labels[0] == IGNORE_INDEX
    prompt = encode_prompt(llama_like, _dialogue())
    assert prompt[0] == bos and prompt.count(bos) == 1
    llama_like.chat_template = chat_template(llama_like)
    templated = llama_like.apply_chat_template(
        [m.model_dump() for m in _dialogue()[:-1]],
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
    )
    assert templated["input_ids"] == prompt
    cut = encode_dialogue(
        llama_like, [Message(role="user", content="问" * 50), Message(role="assistant", content="B")], 8
    )
    assert cut.prompt_cut and cut.input_ids[0] == bos and len(cut.input_ids) == 8


def test_prompt_ends_with_the_assistant_token(tokenizer):
    ids = chat_ids(tokenizer)
    prompt = encode_prompt(tokenizer, _dialogue())
    full = encode_dialogue(tokenizer, _dialogue(), max_length=512).input_ids
    assert prompt[-1] == ids.assistant and full[: len(prompt)] == prompt


def test_add_chat_tokens_is_idempotent(tokenizer):
    assert add_chat_tokens(tokenizer) == 0


def test_the_saved_chat_template_prompts_as_the_stages_do(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    messages = [
        Message(role="user", content="你好，请介绍一下自己。"),
        Message(role="assistant", content="我是助手。"),
        Message(role="user", content="再说一遍。"),
        Message(role="assistant", content="好的。"),
    ]
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    as_dicts = [m.model_dump() for m in messages[:-1]]
    templated = loaded.apply_chat_template(
        as_dicts, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    assert templated["input_ids"] == encode_prompt(tokenizer, messages)
