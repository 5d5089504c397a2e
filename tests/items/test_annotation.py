import random

import pytest

from doit_study.core.files import DataError
from doit_study.core.schema import AnswerKind
from doit_study.items.annotation import annotate, check_leakage, item_id, maths_answer_warnings, normalise
from tests.helpers import make


def _pool(ability="biology", n=30, kind=AnswerKind.letter, gold="B"):
    return [
        (
            make(
                f"{ability} 问题 {i}：细胞的哪个结构储存遗传信息？\nA. 细胞膜\nB. 细胞核", gold, ability, kind
            ),
            None,
        )
        for i in range(n)
    ]


def _run(candidates, targets=None, **kw):
    options = {"valid_size": 5, "test_size": 5, "max_chars": 2000, "seed": 0} | kw
    return annotate(candidates, targets or {}, **options)


def _prompts(result, split):
    return {i.prompt_text for items in result.splits.get(split, {}).values() for i in items}


def test_no_prompt_is_shared_between_splits():
    candidates = _pool() + _pool()[:10]  # ten exact repeats
    result = _run(candidates)
    train, valid, test = (_prompts(result, s) for s in ("train", "valid", "test"))
    assert not train & valid and not train & test and not valid & test
    assert len(train | valid | test) == 30
    assert result.report["types"]["biology"]["dropped"]["duplicate_exact"] == 10


def test_normalised_duplicates_are_removed_across_splits():
    base = make("细胞核的功能是什么？\nA. 储存遗传信息\nB. 合成蛋白质", "A")
    # full-width punctuation, extra spaces and reordered options: the same question
    variant = make("细胞核的功能是什么 ?\nB．合成蛋白质\nA． 储存遗传信息", "A")
    assert normalise(base.prompt_text) == normalise(variant.prompt_text)
    result = _run([(base, "test"), (variant, "train"), *_pool(n=20)])
    assert base.prompt_text in _prompts(result, "test")
    assert variant.prompt_text not in _prompts(result, "train")
    assert result.report["types"]["biology"]["dropped"]["duplicate_normalised"] == 1


def test_an_eval_item_wins_over_its_train_copy():
    item = make("哪种细胞器进行光合作用？\nA. 叶绿体\nB. 线粒体", "A")
    result = _run([(item, "train"), (item, "valid")])
    assert item.prompt_text in _prompts(result, "valid") and item.prompt_text not in _prompts(result, "train")


def test_split_is_deterministic_and_independent_of_input_order():
    candidates = _pool(n=40)
    shuffled = list(candidates)
    random.Random(7).shuffle(shuffled)
    first, second = _run(candidates), _run(shuffled)
    assert {s: {k: [i.id for i in v] for k, v in d.items()} for s, d in first.splits.items()} == {
        s: {k: [i.id for i in v] for k, v in d.items()} for s, d in second.splits.items()
    }
    assert [len(first.splits[s]["biology"]) for s in ("train", "valid", "test")] == [30, 5, 5]


def test_filters_drop_and_count_bad_items():
    candidates = [
        *_pool(n=20),
        (make("太长了" * 1000, "A"), None),
        (make("金丝雀会唱歌吗？", "我不知道", kind=AnswerKind.true_false), None),
        (make("一加一等于几？", "答案：很多", "math", AnswerKind.math), None),
    ]
    report = _run(candidates).report["types"]
    assert report["biology"]["dropped"] == {"too_long": 1, "gold_unparsed": 1, "over_target": 0}
    assert report["math"]["dropped"]["gold_unparsed"] == 1


def test_targets_cap_and_report_shortfall():
    report = _run(_pool(n=30), targets={"biology": 25, "history": 40}).report["types"]
    assert report["biology"]["kept"] == 25 and report["biology"]["dropped"]["over_target"] == 5
    assert report["biology"]["shortfall"] == 0


def test_too_few_items_for_the_splits_is_an_error():
    with pytest.raises(DataError, match="biology has 8 items"):
        _run(_pool(n=8))


def test_format1_items_get_gold_fine_coarse_choices():
    open_items = [
        (
            make(
                f"请写一句关于第{i}个季节的话。",
                f"第{i}个季节天气很好，我们去公园散步了三个小时。",
                "creative_writing",
                AnswerKind.open,
                fmt=1,
            ),
            None,
        )
        for i in range(20)
    ]
    result = _run(open_items)
    for items in (result.splits[s]["creative_writing"] for s in ("train", "valid", "test")):
        for item in items:
            gold, fine, coarse = item.choices
            assert gold == item.gold and fine != gold and coarse != gold
            assert coarse in {i.gold for i, _ in open_items}


def test_ids_come_from_content():
    a, b = make("问题一\nA. x\nB. y", "A"), make("问题一\nA. x\nB. y", "A")
    assert item_id(a) == item_id(b) != item_id(make("问题二\nA. x\nB. y", "A"))


def _declared(prompt: str, key: str):
    item = make(prompt, "B")
    return item.model_copy(update={"source": item.source.model_copy(update={"key": key})})


def test_an_item_in_two_declared_splits_is_leakage_naming_both_places(tmp_path):
    question = "细胞的哪个结构储存遗传信息？\nA. 细胞膜\nB. 细胞核"
    train = (_declared(question, "train/biology.jsonl:3"), "train")
    again = (_declared(question.replace("？", "?  "), "curated/full/biology_full.json:9"), "train")
    test = (_declared(question + "。", "test/biology.jsonl:7"), "test")
    check_leakage([train, again], tmp_path)  # training material may repeat itself (the release's rounds)
    check_leakage([train, (test[0], None)], tmp_path)  # annotate splits unassigned items after de-duplication
    with pytest.raises(DataError, match=r"same prompt .* is in train at train/biology\.jsonl:3") as error:
        check_leakage([train, test], tmp_path)
    assert (error.value.path, error.value.line) == (str(tmp_path / "test/biology.jsonl"), 7)
    with pytest.raises(DataError, match="is in valid at"):
        check_leakage([(test[0], "valid"), test], tmp_path)
    synthetic = (_declared("另一个问题", "synthetic/40960/general.json:1"), "synthetic")
    with pytest.raises(DataError, match=r"is in train at synthetic/40960/general\.json:1"):
        check_leakage([synthetic, (_declared("另一个问题", "test/x.jsonl:1"), "test")], tmp_path)
    named = [(train[0].model_copy(update={"id": "q-1"}), "train"), (make("别的", "A", id="q-1"), "test")]
    with pytest.raises(DataError, match=r"same id \(别的\) is in train at train/biology\.jsonl:3") as error:
        check_leakage(named, tmp_path)
    assert error.value.field == "id"
    own_keys = [(_declared("同一题", "mmlu:12"), "train"), (_declared("同一题", "mmlu:40"), "test")]
    with pytest.raises(
        DataError, match=r"the same prompt \(after normalisation\) \(mmlu:40\) is in train at mmlu:12"
    ):
        check_leakage(own_keys, tmp_path)  # a source's own key is named as it is, not read as a file


def test_maths_solutions_that_end_on_another_value_are_warnings():
    agree = make("化简 √12", "化简得\n答案：2\\sqrt{3}", "math", AnswerKind.math, answer="2\\sqrt{3}")
    remark = make(
        "化简 √12", "化简得 2\\sqrt{3}。\n验算：约为 3.46", "math", AnswerKind.math, answer="2\\sqrt{3}"
    )
    silent = make("化简 √12", "见课本。", "math", AnswerKind.math, answer="2\\sqrt{3}")
    warnings = maths_answer_warnings([(agree, "train"), (remark, None), (silent, "train")])
    assert [(w["answer"], w["solution_states"]) for w in warnings] == [("2\\sqrt{3}", "验算:约为 3.46")]
