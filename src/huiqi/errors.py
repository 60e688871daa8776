"""Errors of the rules engine, each naming where the problem is."""

from __future__ import annotations


class ExprError(Exception):
    """A syntax or name error inside one expression, at a position of its source."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"第{self.line}行第{self.column}列：{self.message}"


class PackError(Exception):
    """A problem in a rule pack: file, rule id, field and position when known."""

    def __init__(
        self,
        message: str,
        file: str | None = None,
        rule: str | None = None,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.rule = rule
        self.field = field
        self.line = line
        self.column = column

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line else ""))
            if self.column and self.line:
                parts[-1] += f":{self.column}"
        if self.rule:
            parts.append(self.rule)
        if self.field:
            parts.append(self.field)
        return " ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "rule": self.rule,
            "field": self.field,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


class PackErrors(Exception):
    """Several pack problems at once (loading reports them all, not only the first)."""

    def __init__(self, errors: list[PackError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors
