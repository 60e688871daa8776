"""Applicant profiles: validation (every problem, with its field path) and normalisation.

A profile is a mapping of variable name -> value. Reserved keys: `label` (a display name),
`as_of` (default evaluation date) and `received_benefits` (benefits already paid, for
stacking: `[{rule, amount, year, key?}]`; `year` is the year it was received, `key` the
stacking key it was paid under — for awards of 上年度, left out, the year before `year`). Values are normalised: integers and years to
int, money and ratios to Decimal (money may be written `300万`, ratios `15%`), dates to
`date`, events to lists of dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..lang.expr import parse_number
from ..packs.variables import FieldSpec, Variable
from ..safeyaml import PROFILE_LIMITS, InputError, load_json_text, load_yaml_text

# `_unknown` and `_families_asked`: what a saved self-check (huiqi ask --save) remembers.
RESERVED = {"label", "as_of", "received_benefits", "applicant", "_unknown", "_families_asked"}


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ProfileError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class Profile:
    facts: dict[str, Any]
    received: list[dict[str, Any]]
    label: str = ""
    as_of: date | None = None
    applicant: str | None = None  # enterprise, person, team, park, institution


def read_profile_file(path: Path) -> Any:
    """A JSON or YAML profile in UTF-8 (with or without BOM), GBK or GB18030, read under
    PROFILE_LIMITS; raises InputError (file, line) or FileNotFoundError."""
    from ..ingest.decode import IngestError, decode_bytes

    label = str(path)
    if not path.exists():
        raise FileNotFoundError(label)
    if not path.is_file():
        raise InputError("不是普通文件", label)
    if path.stat().st_size > PROFILE_LIMITS.max_bytes:
        raise InputError(f"文件过大（上限 {PROFILE_LIMITS.max_bytes // 1000} kB）", label)
    try:
        text, _ = decode_bytes(path.read_bytes(), label, chinese=False)
    except IngestError as exc:
        raise InputError(str(exc).removeprefix(f"{label}: "), label) from None
    except OSError as exc:
        raise InputError(f"无法读取（{exc.strerror}）", label) from None
    return read_profile_text(text, label, json_=path.suffix.lower() == ".json")


def read_profile_text(text: str, label: str = "画像", json_: bool = False) -> Any:
    """A profile's text (what an upload or a request body holds), under PROFILE_LIMITS."""
    if json_:
        return load_json_text(text, label, PROFILE_LIMITS)
    return load_yaml_text(text, label, PROFILE_LIMITS)


#: Largest amount accepted in a profile (元): 一千万亿, beyond any enterprise's books.
MAX_MONEY = Decimal(10) ** 15
MAX_EVENTS = 1_000  # entries in one event list


def _show(value: Any) -> str:
    """A value as it appears in an error message: short, whatever the user sent."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _number(value: Any, spec: FieldSpec, path: str, problems: list[Problem]) -> Any:
    if isinstance(value, bool):
        problems.append(Problem(path, f"应为{_kind(spec)}，不是是/否"))
        return None
    if spec.type in ("integer", "year"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            problems.append(Problem(path, f"应为整数（{spec.label}），而不是 {_show(value)}"))
            return None
        number: Any = value
    else:
        try:
            if isinstance(value, str):
                parsed = parse_number(value)
                if spec.type == "money" and parsed.unit not in ("money", "number"):
                    raise ValueError
                if spec.type == "ratio" and parsed.unit not in ("ratio", "number"):
                    raise ValueError
                number = parsed.value
            elif isinstance(value, (int, float, Decimal)):
                number = Decimal(str(value))
            else:
                raise ValueError
        except (ValueError, InvalidOperation):
            problems.append(Problem(path, f"应为{_kind(spec)}，而不是 {_show(value)}"))
            return None
        if not number.is_finite():
            problems.append(Problem(path, "应为有限数值"))
            return None
        if abs(number) > MAX_MONEY:
            problems.append(Problem(path, f"数值过大（上限 {MAX_MONEY:,} ）"))
            return None
    low, high = spec.bounds()
    if low is not None and number < low:
        problems.append(Problem(path, f"{number} 小于下限 {low}"))
        return None
    if high is not None and number > high:
        problems.append(Problem(path, f"{number} 大于上限 {high}"))
        return None
    return number


def _kind(spec: FieldSpec) -> str:
    return {
        "money": "金额（元，可写 300万）",
        "ratio": "比例（0–1，可写 15%）",
        "integer": "整数",
        "year": "年份",
    }.get(spec.type, spec.type)


def _scalar(value: Any, spec: FieldSpec, path: str, problems: list[Problem]) -> Any:
    t = spec.type
    if value is None:
        problems.append(Problem(path, "不能为空（不知道就不要填）"))
        return None
    if t == "bool":
        if not isinstance(value, bool):
            problems.append(Problem(path, f"应为 true 或 false，而不是 {_show(value)}"))
            return None
        return value
    if t in ("integer", "year", "money", "ratio"):
        return _number(value, spec, path, problems)
    if t == "date":
        if isinstance(value, datetime):  # 2018-02-01 10:00:00: the day is what counts
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            problems.append(Problem(path, f"应为日期 YYYY-MM-DD，而不是 {_show(value)}"))
            return None
    if t == "enum":
        if not isinstance(value, str) or value not in spec.values:
            problems.append(
                Problem(path, f"应为以下之一：{'、'.join(spec.values)}；而不是 {_show(value)}")
            )
            return None
        return value
    problems.append(Problem(path, f"未知类型 {t}"))  # pragma: no cover
    return None


def validate_profile(
    data: Any,
    variables: dict[str, Variable],
    rule_ids: set[str],
    entities: dict[str, str] | None = None,
) -> Profile:
    """Check a profile against the pack's variables; raise ProfileError listing all problems."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ProfileError([Problem("(根)", "画像应为键值映射（JSON 对象或 YAML 映射）")])
    facts: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key in RESERVED:
            continue
        if not key.strip():  # a blank name would give the user an error that points nowhere
            problems.append(Problem("（空字段名）", "字段名为空，请填写变量名"))
            continue
        var = variables.get(key)
        if var is None:
            problems.append(Problem(key, "未知字段（不是本政策包的变量）"))
            continue
        if var.derived:
            problems.append(Problem(key, "派生变量由公式计算，不能直接填写"))
            continue
        if var.type == "events":
            facts[key] = _events(value, var, key, problems)
        else:
            assert var.spec is not None
            facts[key] = _scalar(value, var.spec, key, problems)
    label = data.get("label")
    if label is not None and not isinstance(label, str):
        problems.append(Problem("label", "应为文字"))
    as_of = data.get("as_of")
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if as_of is not None and not isinstance(as_of, date):
        try:
            as_of = date.fromisoformat(str(as_of))
        except ValueError:
            problems.append(Problem("as_of", f"应为日期 YYYY-MM-DD，而不是 {_show(as_of)}"))
            as_of = None
    received = _received(data.get("received_benefits"), rule_ids, problems)
    applicant = _applicant(data.get("applicant"), entities or {}, problems)
    if problems:
        raise ProfileError(problems)
    return Profile(
        facts=facts, received=received, label=label or "", as_of=as_of, applicant=applicant
    )


def _applicant(value: Any, entities: dict[str, str], problems: list[Problem]) -> str | None:
    """Who is asking: an entity id (park) or its Chinese name (园区); None = not said."""
    if value is None:
        return None
    text = str(value).strip()
    for key, label in entities.items():
        if text in (key, label):
            return key
    choices = "、".join(f"{k}（{v}）" for k, v in entities.items())
    problems.append(Problem("applicant", f"应为以下之一：{choices}；而不是 {_show(value)}"))
    return None


def _events(value: Any, var: Variable, key: str, problems: list[Problem]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        problems.append(Problem(key, "应为列表（每项一条记录）；没有就写 []"))
        return []
    if len(value) > MAX_EVENTS:
        problems.append(Problem(key, f"记录过多（{len(value)} 条，上限 {MAX_EVENTS}）"))
        return []
    out = []
    for i, item in enumerate(value):
        path = f"{key}[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(path, "应为键值映射"))
            continue
        ev: dict[str, Any] = {}
        for fname, fvalue in item.items():
            spec = var.fields.get(str(fname))
            if spec is None:
                problems.append(
                    Problem(f"{path}.{fname}", f"未知字段（可用：{'、'.join(var.fields)}）")
                )
                continue
            ev[str(fname)] = _scalar(fvalue, spec, f"{path}.{fname}", problems)
        for fname, spec in var.fields.items():
            if fname not in item and not spec.optional:
                problems.append(Problem(f"{path}.{fname}", f"缺少必填字段（{spec.label}）"))
        out.append(ev)
    return out


def _received(value: Any, rule_ids: set[str], problems: list[Problem]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(Problem("received_benefits", "应为列表"))
        return []
    if len(value) > MAX_EVENTS:
        problems.append(Problem("received_benefits", f"记录过多（上限 {MAX_EVENTS}）"))
        return []
    out = []
    money_spec = FieldSpec("amount", "金额", "money")
    year_spec = FieldSpec("year", "年度", "year")
    for i, item in enumerate(value):
        path = f"received_benefits[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(path, "应为键值映射 {rule, amount, year, key}"))
            continue
        extra = set(item) - {"rule", "amount", "year", "key"}
        for k in sorted(map(str, extra)):
            problems.append(Problem(f"{path}.{k}", "未知字段（可用：rule、amount、year、key）"))
        rule = item.get("rule")
        if not isinstance(rule, str) or rule not in rule_ids:
            problems.append(Problem(f"{path}.rule", f"未知规则编号 {_show(rule)}"))
        amount = _scalar(item.get("amount"), money_spec, f"{path}.amount", problems)
        year = (
            _scalar(item.get("year"), year_spec, f"{path}.year", problems)
            if "year" in item
            else None
        )
        key = item.get("key")
        if key is not None and not isinstance(key, (str, int)):
            problems.append(Problem(f"{path}.key", "应为文字或年份"))
        out.append(
            {"rule": rule, "amount": amount, "year": year, "key": None if key is None else str(key)}
        )
    return out
