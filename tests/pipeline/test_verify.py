"""verify: a metrics file's numbers against its items, any JSON leaf, any line of text; and the
README's generated block found and replaced between its markers only."""

import pandas as pd
import pytest

from doit_study.analysis.item_table import ITEM_COLUMNS
from doit_study.analysis.readme_results import BEGIN, END, readme_block, with_results
from doit_study.core.files import DataError
from doit_study.pipeline.verify import json_differences, metrics_differences, text_differences


def _items() -> pd.DataFrame:
    rows = [
        ("s", "test", 2, "biology", "b1", 1.0, 0.5, "option"),
        ("s", "test", 2, "biology", "b2", 0.0, 0.25, "option"),
        ("s", "test", 2, "ethics", "e1", 1.0, None, None),
        ("s", "valid", 2, "biology", "v1", 1.0, 0.5, "option"),
        ("s", "benchmark.0shot", 2, "heldout", "h1", 0.0, 0.1, "option"),
    ]
    return pd.DataFrame(rows, columns=list(ITEM_COLUMNS)).astype(ITEM_COLUMNS)


def _metrics() -> dict:
    return {
        "best_epoch": 2,
        "overall": 0.75,  # biology 0.5 and ethics 1.0
        "test.biology.acc": 0.5,
        "test.biology.continuous": 0.375,
        "test.ethics.acc": 1.0,
        "benchmark.heldout.0shot.acc": 0.0,
        "benchmark.heldout.0shot.continuous": 0.1,
        "budget.letter.tokens": 4,
    }


def test_a_metrics_file_that_its_items_give_passes_and_a_changed_number_is_named():
    assert metrics_differences(_items(), "s", _metrics(), "m.json") == []
    changed = _metrics() | {"test.biology.acc": 0.51}
    [problem] = metrics_differences(_items(), "s", changed, "m.json")
    assert "test.biology.acc is 0.51, its items give 0.5" in problem
    problems = metrics_differences(_items(), "s", _metrics() | {"overall": 0.7}, "m.json")
    assert problems == ["m.json: overall is 0.7, its items give 0.75"]
    bench = metrics_differences(_items(), "s", _metrics() | {"benchmark.heldout.0shot.continuous": 0.2}, "m")
    assert len(bench) == 1 and "benchmark.heldout.0shot.continuous" in bench[0]
    assert metrics_differences(_items(), "other", _metrics(), "m.json") == [
        "m.json: no items of other in the item table"
    ]


def test_json_differences_name_the_leaf_and_tolerate_only_the_last_bits():
    expected = {"sets": {"biology": {"acc": {"param": {"alpha": 0.1, "low": [1, 2]}}}}, "n": 3}
    assert json_differences(expected, expected, "f") == []
    close = {"sets": {"biology": {"acc": {"param": {"alpha": 0.1 + 1e-15, "low": [1, 2]}}}}, "n": 3}
    assert json_differences(close, expected, "f") == []
    far = {"sets": {"biology": {"acc": {"param": {"alpha": 0.1001, "low": [1, 3]}}}}, "n": 3}
    assert json_differences(far, expected, "f") == [
        "f.sets.biology.acc.param.alpha: the file says 0.1001, recomputed 0.1",
        "f.sets.biology.acc.param.low[1]: the file says 3, recomputed 2",
    ]
    assert json_differences({"x": float("nan")}, {"x": float("nan")}, "f") == []
    assert json_differences({"x": True}, {"x": 1}, "f") != []


def test_text_differences_name_the_first_line():
    assert text_differences("a\nb\nc", "a\nb\nc", "r.md") == []
    assert text_differences("a\nB\nc", "a\nb\nc", "r.md") == [
        "r.md line 2: the file says 'B', recomputed 'b'"
    ]
    assert text_differences("a\nb", "a\nb\nc", "r.md") == ["r.md: 2 lines, recomputed 3"]
    assert text_differences(None, "a", "README.md") == ["README.md: not found"]


def test_the_readme_block_is_replaced_between_its_markers_only(tmp_path):
    readme = f"# t\n\nbefore\n{BEGIN}\nold 0.1\n{END}\nafter\n"
    assert readme_block(readme) == "old 0.1"
    updated = with_results(readme, "new 0.2\nline", tmp_path / "README.md")
    assert updated == f"# t\n\nbefore\n{BEGIN}\nnew 0.2\nline\n{END}\nafter\n"
    assert readme_block(updated) == "new 0.2\nline"
    with pytest.raises(DataError, match="no generated results block"):
        with_results("# t\n", "x", tmp_path / "README.md")
