"""History from the dynasty tables of chinese-history-toolkits; biology from computed genetics.

Every answer is read from a table or computed (Mendelian enumeration, the standard genetic code,
base pairing), never written by hand.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterator
from fractions import Fraction

from doit_study.core.schema import AnswerKind, Item
from doit_study.items.option_lists import options_block, pick_distinct, shuffled_options
from doit_study.items.sources.builtin.common import letter_items_round_robin, make_item

HISTORY_PACKAGE = "chinese-history-toolkits"


def year_text(year: int) -> str:
    return f"公元前{-year}年" if year < 0 else f"公元{year}年"


def _reigns(records: list[dict]) -> list[dict]:
    return [r for r in records if r["reignTitle"] and r["monarch"] and r["dynasty"]]


def _monarch(row: dict) -> tuple[str, str, str]:
    return (row["dynasty"], row["monarch"], row["monarchName"])


def build_history(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    reigns = _reigns(records)
    dynasties_of_title = defaultdict(set)
    titles_of_monarch = defaultdict(list)
    for row in reigns:
        dynasties_of_title[row["reignTitle"]].add(row["dynasty"])
        titles_of_monarch[_monarch(row)].append(row["reignTitle"])
    all_dynasties = sorted({r["dynasty"] for r in records if r["dynasty"]})
    all_titles = sorted(dynasties_of_title)
    for row in rng.sample(reigns, len(reigns)):
        if titles_of_monarch[_monarch(row)].count(row["reignTitle"]) > 1:
            continue  # a title one monarch used twice has no single start year
        if len(dynasties_of_title[row["reignTitle"]]) == 1:  # otherwise no single answer
            yield _title_dynasty(row, rng, version, all_dynasties)
        yield _title_year(row, rng, version)
        yield _title_true_false(row, rng, version, all_titles, set(titles_of_monarch[_monarch(row)]))
        yield _year_true_false(row, rng, version)


def _source(row: dict, version: str, question: str) -> tuple[str, str, str]:
    return (HISTORY_PACKAGE, version, f"{row['key']}:{question}")


def _title_dynasty(row, rng, version, all_dynasties):
    wrong = pick_distinct(rng, all_dynasties, 3, row["dynasty"])
    options, letter = shuffled_options(rng, row["dynasty"], wrong)
    prompt = (
        f"年号「{row['reignTitle']}」是哪个政权使用的年号？\n{options_block(options)}\n请选出正确的一项。"
    )
    return make_item("history", [(prompt, letter)], AnswerKind.letter, _source(row, version, "dynasty"))


def _title_year(row, rng, version):
    begin = int(row["beginYear"])
    offsets = [o for o in (-30, -12, -5, 5, 12, 30, 60) if begin + o != 0]  # there is no year 0
    wrong = [year_text(begin + offset) for offset in rng.sample(offsets, 3)]
    options, letter = shuffled_options(rng, year_text(begin), wrong)
    prompt = (
        f"{row['dynasty']}{row['monarch']}的年号「{row['reignTitle']}」始于哪一年？\n"
        f"{options_block(options)}\n请选出正确的一项。"
    )
    return make_item("history", [(prompt, letter)], AnswerKind.letter, _source(row, version, "year"))


def _title_true_false(row, rng, version, all_titles, own_titles):
    truthful = rng.random() < 0.5
    # a false statement names a title this monarch never used
    title = row["reignTitle"] if truthful else rng.choice([t for t in all_titles if t not in own_titles])
    name = row["monarchName"] or row["monarch"]
    prompt = f"判断正误：{row['dynasty']}{row['monarch']}（{name}）在位时使用过年号「{title}」。"
    gold = "正确" if truthful else "错误"
    return make_item("history", [(prompt, gold)], AnswerKind.true_false, _source(row, version, "uses-title"))


def _year_true_false(row, rng, version):
    begin = int(row["beginYear"])
    truthful = rng.random() < 0.5
    year = begin if truthful else begin + rng.choice([o for o in (-20, -7, 7, 20) if begin + o != 0])
    prompt = f"判断正误：{row['dynasty']}{row['monarch']}的年号「{row['reignTitle']}」始于{year_text(year)}。"
    gold = "正确" if truthful else "错误"
    return make_item("history", [(prompt, gold)], AnswerKind.true_false, _source(row, version, "begin-year"))


def build_monarch_role_play(records: list[dict], rng: random.Random, version: str) -> Iterator[Item]:
    """Role-play chat: the assistant speaks as a monarch about the reign titles the table lists."""
    by_monarch = defaultdict(list)
    for row in _reigns(records):
        by_monarch[(row["dynasty"], row["monarch"], row["monarchName"])].append(row)
    monarchs = sorted(by_monarch)
    for dynasty, monarch, name in rng.sample(monarchs, len(monarchs)):
        rows = sorted(by_monarch[(dynasty, monarch, name)], key=lambda r: int(r["beginYear"]))
        titles = "、".join(
            f"「{r['reignTitle']}」（{year_text(int(r['beginYear']))}至{year_text(int(r['endYear']))}）"
            for r in rows
        )
        who = f"{dynasty}{monarch}" + (f"{name}" if name else "")
        prompt = f"我们来玩角色扮演：请你扮演{who}，用第一人称向我介绍你在位期间使用过的年号。"
        reply = (
            f"朕乃{dynasty}{monarch}"
            + (f"，名{name}" if name else "")
            + f"。朕在位期间使用过的年号有：{titles}。"
        )
        key = f"{rows[0]['key']}:monarch"
        yield make_item(
            "role_play",
            [(prompt, reply)],
            AnswerKind.open,
            (HISTORY_PACKAGE, version, key),
            question_format=1,
        )


# --- biology ------------------------------------------------------------------------------------

# Mendel's seven pea traits: (trait, dominant phenotype, recessive phenotype, gene letter).
PEA_TRAITS = (
    ("株高", "高茎", "矮茎", "D"),
    ("种子形状", "圆粒", "皱粒", "R"),
    ("子叶颜色", "黄色子叶", "绿色子叶", "Y"),
    ("花色", "紫花", "白花", "A"),
    ("豆荚形状", "饱满豆荚", "不饱满豆荚", "V"),
    ("豆荚颜色", "绿色豆荚", "黄色豆荚", "G"),
    ("花的位置", "腋生花", "顶生花", "F"),
)
# The standard genetic code (NCBI table 1), codons ordered TCAG x TCAG x TCAG.
_CODE = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
AMINO_ACIDS = {
    "F": "苯丙氨酸",
    "L": "亮氨酸",
    "S": "丝氨酸",
    "Y": "酪氨酸",
    "C": "半胱氨酸",
    "W": "色氨酸",
    "P": "脯氨酸",
    "H": "组氨酸",
    "Q": "谷氨酰胺",
    "R": "精氨酸",
    "I": "异亮氨酸",
    "M": "甲硫氨酸",
    "T": "苏氨酸",
    "N": "天冬酰胺",
    "K": "赖氨酸",
    "V": "缬氨酸",
    "A": "丙氨酸",
    "D": "天冬氨酸",
    "E": "谷氨酸",
    "G": "甘氨酸",
    "*": "终止（不编码氨基酸）",
}
GENETIC_CODE = {
    "".join(c).replace("T", "U"): _CODE[i] for i, c in enumerate(itertools.product("TCAG", repeat=3))
}
_PAIR = {"A": "T", "T": "A", "G": "C", "C": "G"}


def fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def offspring_probability(parent1: list[str], parent2: list[str], wanted) -> Fraction:
    """P(offspring satisfies `wanted`) by enumerating gametes; genotypes are per-gene pairs ("Dd")."""
    gametes1 = list(itertools.product(*parent1))
    gametes2 = list(itertools.product(*parent2))
    hits = sum(wanted([a + b for a, b in zip(g1, g2, strict=True)]) for g1 in gametes1 for g2 in gametes2)
    return Fraction(hits, len(gametes1) * len(gametes2))


_GENOTYPES = ("{U}{U}", "{U}{l}", "{l}{l}")
_FRACTIONS = [Fraction(n, 16) for n in (0, 1, 2, 3, 4, 6, 8, 9, 12, 16)]


def _cross_item(rng: random.Random) -> tuple[str, str, str] | None:
    traits = rng.sample(PEA_TRAITS, rng.choice((1, 1, 2)))
    parent1, parent2 = [], []
    for _, _, _, gene in traits:
        upper, lower = gene, gene.lower()
        parent1.append(rng.choice(_GENOTYPES).format(U=upper, l=lower))
        parent2.append(rng.choice(_GENOTYPES).format(U=upper, l=lower))
    wants_dominant = [rng.random() < 0.5 for _ in traits]
    phenotype = "、".join(t[1] if dom else t[2] for t, dom in zip(traits, wants_dominant, strict=True))

    def wanted(child: list[str]) -> bool:
        return all(
            (g[0].isupper() or g[1].isupper()) == dom for g, dom in zip(child, wants_dominant, strict=True)
        )

    gold = offspring_probability(parent1, parent2, wanted)
    wrong = pick_distinct(rng, [fraction_text(f) for f in _FRACTIONS], 3, fraction_text(gold))
    options, letter = shuffled_options(rng, fraction_text(gold), wrong)
    names = "和".join(t[0] for t in traits)
    prompt = (
        f"豌豆的{names}各由一对等位基因控制，遵循基因的分离定律和自由组合定律。"
        f"基因型为{''.join(parent1)}与{''.join(parent2)}的豌豆杂交，子代中表现为{phenotype}的个体所占比例是：\n"
        f"{options_block(options)}\n请选出正确的一项。"
    )
    return prompt, letter, f"cross:{''.join(parent1)}x{''.join(parent2)}:{phenotype}"


def _codon_item(rng: random.Random) -> tuple[str, str, str]:
    codon = rng.choice(sorted(GENETIC_CODE))
    gold = AMINO_ACIDS[GENETIC_CODE[codon]]
    wrong = pick_distinct(rng, list(AMINO_ACIDS.values()), 3, gold)
    options, letter = shuffled_options(rng, gold, wrong)
    if rng.random() < 0.5:
        prompt = f"mRNA上的密码子{codon}对应的是："
    else:
        template = "".join(_PAIR[b] for b in codon.replace("U", "T"))
        prompt = f"DNA模板链上的一段碱基序列为3'-{template}-5'，以它为模板转录出的密码子对应的是："
    return f"{prompt}\n{options_block(options)}\n请选出正确的一项。", letter, f"codon:{codon}:{prompt[:4]}"


def _strand_item(rng: random.Random) -> tuple[str, str, str]:
    sequence = "".join(rng.choice("ATGC") for _ in range(rng.randint(6, 10)))
    complement = "".join(_PAIR[b] for b in sequence)
    gold = complement[::-1]
    candidates = [complement, sequence[::-1], gold[:-1] + _PAIR[gold[-1]]]
    wrong = [c for c in dict.fromkeys(candidates) if c != gold]
    if len(wrong) < 3:
        return None
    options, letter = shuffled_options(rng, f"5'-{gold}-3'", [f"5'-{w}-3'" for w in wrong])
    prompt = (
        f"DNA的一条单链碱基序列为5'-{sequence}-3'，其互补链按5'→3'方向书写是：\n"
        f"{options_block(options)}\n请选出正确的一项。"
    )
    return prompt, letter, f"strand:{sequence}"


def _chargaff_item(rng: random.Random) -> tuple[str, str, str]:
    adenine = rng.randint(5, 45)
    gold = f"{50 - adenine}%"  # Chargaff: A = T and G = C, so G = (100 - 2A) / 2
    wrong = pick_distinct(
        rng,
        [
            f"{adenine}%",
            f"{100 - adenine}%",
            f"{100 - 2 * adenine}%",
            f"{50 - adenine + 5}%",
            f"{max(1, 50 - adenine - 5)}%",
        ],
        3,
        gold,
    )
    options, letter = shuffled_options(rng, gold, wrong)
    prompt = (
        f"在某双链DNA分子中，腺嘌呤（A）占全部碱基的{adenine}%，则鸟嘌呤（G）占全部碱基的：\n"
        f"{options_block(options)}\n请选出正确的一项。"
    )
    return prompt, letter, f"chargaff:{adenine}"


def build_biology(rng: random.Random) -> Iterator[Item]:
    return letter_items_round_robin("biology", (_cross_item, _codon_item, _strand_item, _chargaff_item), rng)
