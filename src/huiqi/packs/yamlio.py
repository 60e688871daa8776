"""YAML loading that remembers line numbers, so pack errors can say where they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import PackError


class LineDict(dict):
    """A mapping from YAML that knows its own line and each key's value line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]
    value_columns: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    out.value_columns = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[str(key)] = value_node.start_mark.line + 1
        # Where the expression text begins: for block scalars (| >) the next line.
        col = value_node.start_mark.column + 1
        if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
            out.key_lines[str(key)] += 1
            col = 1
        elif isinstance(value_node, yaml.ScalarNode) and value_node.style in ("'", '"'):
            col += 1
        out.value_columns[str(key)] = col
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path, label: str | None = None) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PackError(
            f"YAML 错误：{getattr(exc, 'problem', exc)}",
            file=label or str(path),
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
