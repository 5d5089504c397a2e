"""Dialogue understanding from HSK sentences (hsk-sentences-audio) and chatterbot-corpus
conversations; role-play chat from the same conversations. Answers come from the corpora's own
labels (topic, sentence type) and turn order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import options_block, pick_distinct, shuffled_options
from doit_study.items.sources.builtin.common import make_item

HSK_PACKAGE = "hsk-sentences-audio"
CHAT_PACKAGE = "chatterbot-corpus"

# HSK topic labels; misc, objects_misc and questions are left out as answers (no clear topic).
HSK_TOPICS = {
    "feelings": "情感",
    "school_work": "学习与工作",
    "sports_leisure": "运动与休闲",
    "identity": "个人身份",
    "daily_actions": "日常活动",
    "shopping": "购物",
    "transport": "交通",
    "location": "地点方位",
    "nature": "自然",
    "health_body": "健康与身体",
    "time": "时间",
    "food": "饮食",
    "family": "家庭",
    "numbers": "数字",
    "greetings": "问候",
    "weather_state": "天气",
}
SENTENCE_TYPES = {"statement": "陈述句", "imperative": "祈使句", "question": "疑问句"}
CHAT_TOPICS = {
    "ai": "人工智能",
    "botprofile": "机器人的自我介绍",
    "conversations": "日常寒暄",
    "emotion": "情绪",
    "food": "食物",
    "gossip": "闲聊八卦",
    "greetings": "问候",
    "history": "历史",
    "humor": "幽默",
    "literature": "文学",
    "money": "金钱",
    "movies": "电影",
    "politics": "政治",
    "psychology": "心理",
    "science": "科学",
    "sports": "体育",
    "trivia": "常识问答",
}
_SPEAKERS = ("甲", "乙")


def build_hsk_understanding(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    """Two-turn items: the topic of a sentence, then its sentence type."""
    topics = list(HSK_TOPICS.values())
    types = list(SENTENCE_TYPES.values())
    for record in rng.sample(records, len(records)):
        if record["topic"] not in HSK_TOPICS:
            continue
        topic = HSK_TOPICS[record["topic"]]
        options, topic_letter = shuffled_options(rng, topic, pick_distinct(rng, topics, 3, topic))
        first = (
            f"阅读下面的句子，回答问题。\n句子：{record['chinese']}\n问题一：这句话最可能出现在哪个话题中？\n"
            f"{options_block(options)}"
        )
        sentence_type = SENTENCE_TYPES[record["sentence_type"]]
        # shuffled like every option list: in a fixed order "statement" was always A
        type_options, type_letter = shuffled_options(
            rng, sentence_type, [t for t in types if t != sentence_type]
        )
        second = f"问题二：这句话属于哪种句型？\n{options_block(type_options)}"
        yield make_item(
            "understanding",
            [(first, topic_letter), (second, type_letter)],
            AnswerKind.letter,
            (HSK_PACKAGE, version, record["key"]),
        )


def _dialogue_text(turns: list[str]) -> str:
    return "\n".join(f"{_SPEAKERS[index % 2]}：{turn}" for index, turn in enumerate(turns))


def build_chat_understanding(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    """Reply selection (the true next turn among replies from other conversations) and topic."""
    replies = [turn for record in records for turn in record["turns"][1:]]
    topics = list(CHAT_TOPICS.values())
    for record in rng.sample(records, len(records)):
        turns = record["turns"]
        if len(turns) < 2:
            continue
        cut = rng.randrange(1, len(turns))
        wrong = pick_distinct(rng, [r for r in replies if r not in turns], 3, turns[cut])
        options, letter = shuffled_options(rng, turns[cut], wrong)
        speaker = _SPEAKERS[cut % 2]
        prompt = (
            f"阅读下面的对话：\n{_dialogue_text(turns[:cut])}\n接下来{speaker}最恰当的回应是：\n"
            f"{options_block(options)}\n请选出正确的一项。"
        )
        yield make_item(
            "understanding",
            [(prompt, letter)],
            AnswerKind.letter,
            (CHAT_PACKAGE, version, f"{record['key']}:reply"),
        )
        topic = CHAT_TOPICS[record["topic"]]
        options, letter = shuffled_options(rng, topic, pick_distinct(rng, topics, 3, topic))
        prompt = (
            f"阅读下面的对话：\n{_dialogue_text(turns)}\n"
            f"这段对话主要在谈论什么话题？\n{options_block(options)}"
        )
        yield make_item(
            "understanding",
            [(prompt, letter)],
            AnswerKind.letter,
            (CHAT_PACKAGE, version, f"{record['key']}:topic"),
        )


def build_chat_role_play(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    """Role-play chat: the assistant plays a friend who likes the conversation's topic; every
    assistant turn of a longer conversation is a reply to train on."""
    for record in rng.sample(records, len(records)):
        turns = record["turns"]
        if len(turns) < 2:
            continue
        persona = (
            f"我们来玩角色扮演：你是一位喜欢聊{CHAT_TOPICS[record['topic']]}的朋友，"
            "请用朋友的口吻和我聊天。\n"
        )
        usable = len(turns) - len(turns) % 2
        pairs = [(turns[i], turns[i + 1]) for i in range(0, usable, 2)]
        pairs[0] = (persona + pairs[0][0], pairs[0][1])
        yield make_item(
            "role_play", pairs, AnswerKind.open, (CHAT_PACKAGE, version, record["key"]), question_format=1
        )
