"""Pack YAML: the strict reader (limits, duplicate keys, exact types) plus line numbers, so
that pack errors can say where they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import PackError
from ..safeyaml import LIMITS, InputError, StrictLoader, explicit_duplicates, load_yaml_text


class LineDict(dict):
    """A mapping from YAML that knows its own line and each key's value line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]
    value_columns: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(StrictLoader):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    explicit_duplicates(node)
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    out.value_columns = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "键应为文字或数字", key_node.start_mark
            )
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
    """A pack file in UTF-8 (with or without BOM), GBK or GB18030, under LIMITS."""
    from ..ingest.decode import IngestError, decode_bytes

    label = label or str(path)
    try:
        if path.stat().st_size > LIMITS.max_bytes:
            raise PackError(f"文件过大（上限 {LIMITS.max_bytes // 1000} kB）", file=label)
        text, _ = decode_bytes(path.read_bytes(), label, chinese=False)
        return load_yaml_text(text, label, LIMITS, loader=_Loader)
    except InputError as exc:
        raise PackError(exc.message, file=label, line=exc.line, column=exc.column) from None
    except (IngestError, OSError) as exc:
        raise PackError(f"无法读取：{exc}", file=label) from None
