import random

from doit_study.items.distractors import coarse_grained, fine_grained
from tests.helpers import make


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


GOLDS = [
    "参考实现如下：\n```python\ndef total(nums):\n    return sum(x for x in nums if x % 2 == 0)\n```",
    "同学们，今天我们来学习成语「画蛇添足」。它的意思是做了多余的事，反而不恰当。",
    "朕乃唐太宗，在位期间使用过的年号有：「贞观」（公元627年至公元649年）。",
    "春天来了，小草从地下探出头来，河边的柳树长出了新的枝条。",
]


def test_fine_grained_is_a_small_edit():
    for seed in range(50):
        rng = random.Random(seed)
        for gold in GOLDS:
            fine = fine_grained(gold, rng)
            assert fine is not None and fine != gold
            assert edit_distance(fine, gold) <= 6, (gold, fine)


def test_fine_grained_edits_code_not_its_introduction():
    for seed in range(30):
        fine = fine_grained(GOLDS[0], random.Random(seed))
        assert fine.startswith("参考实现如下：\n```python")


def test_fine_grained_gives_up_on_text_it_cannot_edit():
    assert fine_grained("Hello", random.Random(0)) is None


def test_coarse_grained_comes_from_another_instruction():
    pool = [make(f"请写第{i}句话。", gold, "creative_writing") for i, gold in enumerate(GOLDS)]
    for seed in range(20):
        item = pool[seed % len(pool)]
        coarse = coarse_grained(item, pool, random.Random(seed))
        assert coarse in GOLDS and coarse != item.gold


def test_coarse_grained_needs_another_item():
    item = make("请写一句话。", GOLDS[3], "creative_writing")
    assert coarse_grained(item, [item], random.Random(0)) is None
