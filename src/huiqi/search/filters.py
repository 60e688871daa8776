"""Search filters: validated values and the SQL (always parameterised) they add."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..jurisdictions import LEVELS
from .classify import ENTITIES

_LEVEL_ALIASES = {
    "国家": "national",
    "国家级": "national",
    "中央": "national",
    "省": "province",
    "省级": "province",
    "市": "city",
    "市级": "city",
    "县": "county",
    "县级": "county",
    "县（市）": "county",
    "县市": "county",
}
_ENTITY_ALIASES = {
    "企业": "enterprise",
    "公司": "enterprise",
    "个人": "person",
    "人才": "person",
    "团队": "team",
    "园区": "park",
    "产业集聚区": "park",
    "机构": "institution",
    "孵化器": "institution",
    "众创空间": "institution",
}


class FilterError(ValueError):
    """A filter value that cannot be used; the message is for the user (Chinese)."""


@dataclass(frozen=True)
class Filters:
    issuer: str | None = None  # substring of any issuer
    from_year: int | None = None  # issued_on year, inclusive
    to_year: int | None = None
    doc_type: str | None = None  # substring of the document type (办法 matches 暂行办法)
    level: str | None = None  # national / province / city / county
    in_force_on: date | None = None  # excludes documents known not to be in force
    entity: str | None = None  # enterprise / person / team / park / institution
    amount_only: bool = False  # only clauses that state an amount

    @classmethod
    def of(
        cls,
        *,
        issuer: str | None = None,
        from_year: int | str | None = None,
        to_year: int | str | None = None,
        doc_type: str | None = None,
        level: str | None = None,
        in_force_on: date | str | None = None,
        entity: str | None = None,
        amount_only: bool = False,
    ) -> Filters:
        """Validate user-supplied values (raises FilterError with a Chinese message)."""
        return cls(
            issuer=_text(issuer),
            from_year=_year(from_year, "起始年份"),
            to_year=_year(to_year, "截止年份"),
            doc_type=_text(doc_type),
            level=_level(level),
            in_force_on=parse_date(in_force_on),
            entity=_entity(entity),
            amount_only=bool(amount_only),
        )._checked()

    def _checked(self) -> Filters:
        if self.from_year and self.to_year and self.from_year > self.to_year:
            raise FilterError(f"起始年份 {self.from_year} 晚于截止年份 {self.to_year}")
        return self

    def sql(self) -> tuple[str, list]:
        """WHERE conditions on `d` (docs) and `c` (clauses), and their parameters."""
        where: list[str] = []
        params: list = []
        if self.issuer:
            where.append("instr(d.issuers, ?) > 0")
            params.append(self.issuer)
        if self.from_year is not None:
            where.append("d.year >= ?")
            params.append(self.from_year)
        if self.to_year is not None:
            where.append("d.year <= ?")
            params.append(self.to_year)
        if self.doc_type:
            where.append("instr(d.doc_type, ?) > 0")
            params.append(self.doc_type)
        if self.level:
            where.append("d.level = ?")
            params.append(self.level)
        if self.in_force_on is not None:
            # Same reading as Document.in_force; unknown (NULL) is kept.
            where.append(f"({IN_FORCE_SQL}) IS NOT 0")
            on = self.in_force_on.isoformat()
            params.extend([on, on])
        if self.entity:
            where.append("instr(c.entities, ?) > 0")
            params.append(f",{self.entity},")
        if self.amount_only:
            where.append("c.amount = 1")
        return " AND ".join(where), params

    def to_dict(self) -> dict:
        return {
            "issuer": self.issuer,
            "from_year": self.from_year,
            "to_year": self.to_year,
            "doc_type": self.doc_type,
            "level": self.level,
            "in_force_on": self.in_force_on.isoformat() if self.in_force_on else None,
            "entity": self.entity,
            "amount_only": self.amount_only,
        }


# In force on a date (two parameters: the date twice): repealed → 0; no start date → NULL.
IN_FORCE_SQL = (
    "CASE WHEN d.repealed THEN 0 "
    "WHEN COALESCE(d.effective_from, d.issued_on) IS NULL THEN NULL "
    "WHEN ? < COALESCE(d.effective_from, d.issued_on) THEN 0 "
    "WHEN d.effective_to IS NOT NULL AND ? > d.effective_to THEN 0 ELSE 1 END"
)


def parse_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text.replace("/", "-").replace(".", "-"))
    except ValueError:
        raise FilterError(f"日期格式不对：{value}（应为 YYYY-MM-DD，如 2018-01-01）") from None


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _year(value: int | str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise FilterError(f"{what}不对：{value}（应为四位数年份，如 2017）") from None
    if not 1900 <= year <= 2100:
        raise FilterError(f"{what}不对：{value}（应为四位数年份，如 2017）")
    return year


def _choice(
    value: str | None, choices: dict[str, str], aliases: dict[str, str], what: str
) -> str | None:
    """An identifier (national) or its Chinese name (国家 / 市级 …) from a fixed list."""
    value = _text(value)
    if value is None:
        return None
    if value.lower() in choices:
        return value.lower()
    if value in aliases:
        return aliases[value]
    listed = "、".join(f"{k}（{v}）" for k, v in choices.items())
    raise FilterError(f"{what}不对：{value}（可选：{listed}）")


def _level(value: str | None) -> str | None:
    return _choice(value, LEVELS, _LEVEL_ALIASES, "层级")


def _entity(value: str | None) -> str | None:
    return _choice(value, ENTITIES, _ENTITY_ALIASES, "受益主体")
