"""What a clause is about, read from its words: stated amounts and beneficiary entities.

Both are heuristics over the clause's own text plus the headings above it (an item under
（二）高层次创新人才 is about people even if it never says so):

* amount: a number followed by 元 / 万元 / 亿元 (Arabic or Chinese numerals), or a
  percentage (15%, 百分之五十).
* entity, any of
  - enterprise: 企业, 公司, 法人
  - person: 人才, 个人, 本人, 专家, 配偶, 子女, 博士, 院士, 企业家
  - team: 团队
  - park: 园区, 产业集聚区, 高新区, 开发区, 示范区, 基地
  - institution: 孵化器, 众创空间, 星创天地, 加速器, 机构, 高校, 院所, 实验室, 研究中心
"""

from __future__ import annotations

import re

ENTITIES: dict[str, str] = {
    "enterprise": "企业",
    "person": "个人/人才",
    "team": "团队",
    "park": "园区",
    "institution": "机构",
}

_ENTITY_WORDS = {
    "enterprise": re.compile(r"企业|公司|法人"),
    "person": re.compile(r"人才|个人|本人|专家|配偶|子女|博士|院士|企业家"),
    "team": re.compile(r"团队"),
    "park": re.compile(r"园区|产业集聚区|高新区|开发区|示范区|基地"),
    "institution": re.compile(r"孵化器|众创空间|星创天地|加速器|机构|高校|院所|实验室|研究中心"),
}

# A number is matched only from the start of its run of digits (or numerals): started at
# every position inside a long run, each attempt re-read the rest of it, quadratic in the
# run's length (a 5,000-digit line took 2 s to index during `huiqi ingest`).
_CN = "零〇一二两三四五六七八九十百千"
_NUM = rf"(?:(?<!\d)\d+(?:\.\d+)?|(?<![{_CN}])[{_CN}]+)"
_AMOUNT = re.compile(
    rf"{_NUM}\s*(?:万|千|百|亿)?\s*(?:万)?\s*(?:元|美元)"
    rf"|(?<!\d)\d+(?:\.\d+)?\s*[%％]"
    rf"|百分之[零〇一二两三四五六七八九十百]+"
)


def states_amount(text: str) -> bool:
    return bool(_AMOUNT.search(text))


def entities(text: str) -> list[str]:
    return [name for name, pattern in _ENTITY_WORDS.items() if pattern.search(text)]
