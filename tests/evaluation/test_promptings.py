"""FLAN's two promptings and LIMIT's open answers on a tiny model: chain items asked again with each
instruction appended and scored by their final answer, the metrics keyed by prompting; free answers
to open items within their own budget, stored with the question and the reference."""

import pytest

from doit_study.core.schema import AnswerKind
from doit_study.evaluation.item_scoring import ScoringConfig
from doit_study.evaluation.promptings import (
    generate_open_answers,
    open_budget,
    prompting_metrics,
    score_promptings,
)
from tests.helpers import make

CHAIN = "先算 3 + 4 = 7。\n答案：7"
CONFIG = ScoringConfig(
    4,
    512,
    {"letter": 2, "multi_letter": 2, "true_false": 2, "fill": 2, "math": 6},
    1,
    "float32",
    "both",
    None,
)
INSTRUCTIONS = {"direct": "直接给出最终答案。", "cot": "请一步一步地推理。"}


def test_chain_items_are_scored_under_each_prompting_and_others_are_not(tiny, monkeypatch):
    model, tokenizer = tiny
    test = [
        make("小明有 3 个苹果，又买了 4 个，一共几个？", CHAIN, "math", AnswerKind.math),
        make("问题", "A"),
    ]
    asked = []
    import doit_study.evaluation.promptings as promptings

    real = promptings.score_items

    def spy(model, tokenizer, items, config):
        asked.append([item.messages[0].content for item in items])
        return real(model, tokenizer, items, config)

    monkeypatch.setattr(promptings, "score_items", spy)
    found = score_promptings(model, tokenizer, test, CONFIG, INSTRUCTIONS)
    assert list(found) == ["direct", "cot"]
    assert asked == [
        [test[0].messages[0].content + "\n直接给出最终答案。"],
        [test[0].messages[0].content + "\n请一步一步地推理。"],
    ]
    for predictions, summary in found.values():
        assert len(predictions) == 1 and predictions[0].gold == CHAIN and set(summary) == {"math"}
    metrics = prompting_metrics(found)
    assert set(metrics) == {
        "test.math.direct.acc",
        "test.math.cot.acc",
        "test.math.direct.continuous",
        "test.math.cot.continuous",
    }
    assert score_promptings(model, tokenizer, [test[1]], CONFIG, INSTRUCTIONS) == {}


def test_open_answers_are_greedy_within_their_own_budget(tiny):
    model, tokenizer = tiny

    class Open:
        length_factor, max_new_tokens = 1.5, 5

    items = [
        make("写一句话。", "春眠不觉晓，处处闻啼鸟。", "creative_writing", AnswerKind.open),
        make("问题", "A"),
    ]
    rows = generate_open_answers(model, tokenizer, items, CONFIG, Open)
    assert len(rows) == 1 and rows[0]["reference"] == items[0].gold and rows[0]["question"] == "写一句话。"
    assert rows[0]["budget"] == 5  # 1.5 x the reference's tokens, capped at 5
    assert (
        isinstance(rows[0]["output"], str)
        and len(tokenizer.encode(rows[0]["output"], add_special_tokens=False)) <= 5
    )
    assert rows == generate_open_answers(model, tokenizer, items, CONFIG, Open)  # greedy: the same again
    assert open_budget(tokenizer, make("q", "一二", "creative_writing", AnswerKind.open), 1.0, 100) == len(
        tokenizer.encode("一二", add_special_tokens=False)
    )


def test_config_refuses_a_judge_without_open_answers_and_unknown_names():
    from pydantic import ValidationError

    from doit_study.params.study import StudyParams, load_params
    from tests.helpers import REPO

    params = load_params(REPO / "profiles/smoke.yaml").model_dump()
    params["judge"] |= {"settings": ["s-curated-n4"], "local_model": "m"}
    with pytest.raises(ValidationError, match=r"evaluate\.open_answers: required"):
        StudyParams.model_validate(params)
    params["evaluate"]["open_answers"] = {"length_factor": 2.0, "max_new_tokens": 32}
    params["judge"]["compare_with"] = "nope"
    with pytest.raises(ValidationError, match="'nope' is not a setting"):
        StudyParams.model_validate(params)
    params["judge"] |= {"compare_with": None, "local_model": "xl"}
    with pytest.raises(ValidationError, match=r"judge\.local_model: 'xl' is not one of foundation\.models"):
        StudyParams.model_validate(params)
    params["judge"]["local_model"] = "m"
    StudyParams.model_validate(params)
    params["expand"]["style"]["ratios"] = [0.5]
    params["expand"]["style"]["open"] = ["poetry"]
    with pytest.raises(ValidationError, match="neither an ability nor general"):
        StudyParams.model_validate(params)
