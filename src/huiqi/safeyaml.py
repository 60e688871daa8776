"""The one place that reads YAML and JSON written by people: profiles, rule packs, cases.

PyYAML's safe loader never runs code, but it still lets a small file do harm or say something
its author did not mean. This reader adds what a public service needs:

- **limits**: file size, number of values after aliases are expanded (a 477-byte "billion
  laughs" file is refused in microseconds), nesting depth, string length;
- **no silent surprises**: a key written twice is an error (not "the last one wins"); only
  decimal integers (`010` is not 8, `1:30` is not 90); only `true`/`false` are booleans
  (`no`, `on` stay text); an impossible date (`2018-02-30`) is an error with its line;
- **errors that name the place**: `InputError` carries the file label, line and column.

Limits are in LIMITS and documented in README.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import BaseResolver


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2_000_000  # a rule file is < 100 kB; a profile < 10 kB
    max_values: int = 200_000  # scalars and containers after alias expansion
    max_depth: int = 40
    max_string: int = 20_000  # characters in one string


LIMITS = Limits()
PROFILE_LIMITS = Limits(max_bytes=1_000_000, max_values=50_000, max_depth=12, max_string=2_000)


class InputError(ValueError):
    """A YAML/JSON document that cannot be accepted, with where it went wrong."""

    def __init__(self, message: str, label: str = "", line: int | None = None, column=None):
        where = label + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}：{message}" if where else message)
        self.message, self.label, self.line, self.column = message, label, line, column


class StrictResolver(BaseResolver):
    """YAML 1.2-like implicit types: fewer surprises for people who write 010 or `no`."""


StrictResolver.yaml_implicit_resolvers = {}
for _tag, _regex, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^[-+]?(?:0|[1-9][0-9_]*)$", "-+0123456789"),
    (
        "float",
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$"
        r"|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        "timestamp",
        r"^(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
        r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?)$",
        "0123456789",
    ),
    ("merge", r"^(?:<<)$", "<"),
]:
    StrictResolver.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_regex), list(_first)
    )


def explicit_duplicates(node: yaml.MappingNode) -> None:
    """A key written twice in one mapping is an error; a key that overrides one brought in by a
    merge (`<<: *base`) is not: that is what merges are for."""
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = key_node.value
        if key in seen:
            raise ConstructorError(
                None,
                None,
                f"键 {key!r} 重复（第 {seen[key].line + 1} 行已有）",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark


class StrictConstructor(SafeConstructor):
    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        if isinstance(node, yaml.MappingNode):
            explicit_duplicates(node)
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise ConstructorError(None, None, "键应为文字或数字", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node):  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            raise ConstructorError(
                None, None, f"无效的日期 {node.value}", node.start_mark
            ) from None


StrictConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp", StrictConstructor.construct_yaml_timestamp
)
StrictConstructor.add_constructor("tag:yaml.org,2002:map", StrictConstructor.construct_yaml_map)

try:  # libyaml's parser (PyYAML exports it from yaml.cyaml only): ~10x faster on packs
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None
if _CParser is not None:

    class StrictLoader(_CParser, StrictConstructor, StrictResolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: Any) -> None:
            _CParser.__init__(self, stream)
            StrictConstructor.__init__(self)
            StrictResolver.__init__(self)

else:  # pragma: no cover - pure-Python fallback
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class StrictLoader(Reader, Scanner, Parser, Composer, StrictConstructor, StrictResolver):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            StrictConstructor.__init__(self)
            StrictResolver.__init__(self)


def check_shape(data: Any, label: str = "", limits: Limits = LIMITS) -> None:
    """Count values (shared, aliased ones each time they are reached) and depth, iteratively,
    stopping at the first limit crossed: nothing that walks `data` later can blow up."""
    budget = limits.max_values
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise InputError(f"内容过多（展开后超过 {limits.max_values} 个值）", label)
        if depth > limits.max_depth:
            raise InputError(f"嵌套过深（超过 {limits.max_depth} 层）", label)
        if isinstance(node, dict):
            for k, v in node.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, str) and len(node) > limits.max_string:
            raise InputError(f"文字过长（{len(node)} 字，上限 {limits.max_string}）", label)


# The parsers' own descriptions of a syntax error (libyaml's, PyYAML's composer, Python's
# json), in the words a user reads; the line and column come with the error. Checked in
# order, by a part of the text; anything else gets the last, general one.
YAML_PROBLEMS = (
    ("cannot start any token", "此处有无法识别的字符（缩进请用空格，不要用制表符）"),
    ("control characters", "含有不允许的控制字符"),
    ("tab character", "缩进请用空格，不要用制表符"),
    ("mapping values are not allowed", "此处不能出现“键: 值”（冒号后的文字含冒号时请加引号）"),
    ("did not find expected key", "缩进不一致，找不到应有的键"),
    ("could not find expected ':'", "缺少冒号“:”"),
    ("expected ',' or ']'", "方括号“[”没有闭合，或元素之间缺少逗号"),
    ("expected ',' or '}'", "花括号“{”没有闭合，或元素之间缺少逗号"),
    ("end of stream", "文件意外结束（引号或括号没有闭合）"),
    ("undefined alias", "引用了未定义的锚点"),
    ("duplicate anchor", "锚点重复定义"),
    ("block sequence entries are not allowed", "此处不能出现列表项“- ”"),
    ("expected '-' indicator", "列表项应以“- ”开头"),
    ("expected node content", "缺少内容"),
    ("escape", "引号内有无效的转义字符"),
    ("utf-8", "不是有效的 UTF-8 文字"),
    ("unicode", "不是有效的 UTF-8 文字"),
    ("document", "文件中只能有一个文档"),
    ("tag", "不支持的标签（“!”开头的写法）"),
    ("", "无法识别的写法"),
)
JSON_PROBLEMS = (
    ("Expecting value", "缺少值"),
    ("Expecting ',' delimiter", "缺少逗号“,”"),
    ("Expecting ':' delimiter", "缺少冒号“:”"),
    ("Expecting property name", "键应为双引号括起的文字"),
    ("Unterminated string", "字符串的引号没有闭合"),
    ("Invalid control character", "字符串中有不允许的控制字符"),
    ("escape", "字符串中有无效的转义字符"),
    ("Extra data", "内容结束后还有多余的文字"),
    ("trailing comma", "最后一项后面多了逗号"),
    ("", "无法识别的写法"),
)


def in_chinese(problem: str, table: tuple[tuple[str, str], ...]) -> str:
    """The user's words for a parser's description of a syntax error (`YAML_PROBLEMS`,
    `JSON_PROBLEMS`); our own constructors' messages are Chinese already and pass as they
    are."""
    if any("\u4e00" <= ch <= "\u9fff" for ch in problem):
        return problem
    low = problem.lower()
    return next(zh for part, zh in table if part.lower() in low)


def _size(text: str, label: str, limits: Limits) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise InputError(f"文件过大（上限 {limits.max_bytes // 1000} kB）", label)


def load_yaml_text(text: str, label: str = "", limits: Limits = LIMITS, loader=None) -> Any:
    """Parse YAML under the limits; raise InputError naming the line."""
    _size(text, label, limits)
    try:
        data = yaml.load(text, Loader=loader or StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = in_chinese(exc.problem or exc.context or "", YAML_PROBLEMS)
        raise InputError(
            f"YAML 格式错误：{problem}",
            label,
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        # a character the reader refuses: its place is a position in the text
        place = getattr(exc, "position", None)
        line = None if place is None else text.count("\n", 0, place) + 1
        problem = in_chinese(str(exc), YAML_PROBLEMS)
        raise InputError(f"YAML 格式错误：{problem}", label, line) from None
    except RecursionError:
        raise InputError(f"嵌套过深（超过 {limits.max_depth} 层）", label) from None
    check_shape(data, label, limits)
    return data


def load_json_text(text: str, label: str = "", limits: Limits = LIMITS) -> Any:
    """Parse JSON under the same limits; a key written twice is an error."""
    _size(text, label, limits)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise InputError(f"键 {k!r} 重复", label)
            out[k] = v
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        problem = in_chinese(exc.msg, JSON_PROBLEMS)
        raise InputError(f"JSON 格式错误：{problem}", label, exc.lineno, exc.colno) from None
    except RecursionError:
        raise InputError(f"嵌套过深（超过 {limits.max_depth} 层）", label) from None
    check_shape(data, label, limits)
    return data


def _no_constant(name: str) -> Any:
    raise InputError(f"不支持的数值 {name}")
