from doit_study.core.schema import Message
from doit_study.modeling.chat import IGNORE_INDEX, add_chat_tokens, chat_ids, encode_dialogue, encode_prompt

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
    input_ids, labels = encode_dialogue(tokenizer, _dialogue(), max_length=512)
    assert len(input_ids) == len(labels)
    trained = [token for token, label in zip(input_ids, labels, strict=True) if label != IGNORE_INDEX]
    expected = []
    for reply in ("你好，很高兴认识你。", "比喻做了多余的事。"):
        expected += [*tokenizer.encode(reply, add_special_tokens=False), ids.end_of_turn]
    assert trained == expected  # both assistant turns, nothing of the user turns or role tokens
    assert all(labels[i] in (IGNORE_INDEX, input_ids[i]) for i in range(len(labels)))
    assert input_ids.count(ids.user) == 2 and input_ids.count(ids.assistant) == 2


def test_truncation_keeps_the_start(tokenizer):
    full, _ = encode_dialogue(tokenizer, _dialogue(), max_length=512)
    short, labels = encode_dialogue(tokenizer, _dialogue(), max_length=7)
    assert short == full[:7] and len(labels) == 7


def test_prompt_ends_with_the_assistant_token(tokenizer):
    ids = chat_ids(tokenizer)
    prompt = encode_prompt(tokenizer, _dialogue())
    full, _ = encode_dialogue(tokenizer, _dialogue(), max_length=512)
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
