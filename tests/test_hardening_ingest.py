"""Hostile inputs for `ingest`, `docs`, `show` and `search`, through the CLI.

Every case states the exit status and a message that names the problem (file, line or
limit), and is checked for: no traceback, no uncaught exception, bounded time, no control
character or escape sequence from the data reaching the terminal, and for `ingest` the line
balance it prints (lines in = lines placed + lines reported). Limits are exercised with small
inputs by monkeypatching the limit constants.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.ingest import pipeline
from huiqi.ingest.pipeline import ingest_paths, parse_text
from huiqi.library.store import open_library
from huiqi.resources import bundled_corpus
from huiqi.search import rebuild_index

runner = CliRunner()
MAX_SECONDS = (
    15  # a hang is minutes; a loaded 2-core CI machine runs the 10,000-article case in ~5 s
)
BALANCE = re.compile(r"共 (\d+) 行：(\d+) 行归入文件，(\d+) 行未入库并已报告")

POLICY = (
    "焦作市人民政府\n关于测试奖励的通知\n焦政〔2020〕1号\n各县（市）区人民政府：\n"
    "为支持企业发展，现通知如下：\n一、对企业给予10万元奖励。\n二、本通知自印发之日起施行。\n"
)
OTHER = POLICY.replace("10万元", "20万元")


# --- building inputs ----------------------------------------------------------------------


def put(folder: Path, name: str, data: str | bytes, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def ingest(tmp: Path, *paths: Path | str, db: Path | str | None = None) -> list[str]:
    return ["ingest", *map(str, paths), "--db", str(db or tmp / "lib.db")]


def library(tmp: Path, text: str = POLICY, name: str = "lib.db") -> Path:
    """A library (and its search index) holding the documents of one text."""
    db = tmp / name
    result = ingest_paths([put(tmp / "src", "doc.txt", text)])
    open_library(db, create=True).save(result.documents)
    rebuild_index(result.documents, db)
    return db


def index_of(db: Path) -> Path:
    return db.with_name(db.stem + ".search.db")


def articles(n: int) -> str:
    from huiqi.ingest.text import int_to_cn

    return "焦作市测试办法\n" + "\n".join(
        f"第{int_to_cn(k)}条 奖励{k}元。" for k in range(1, n + 1)
    )


def no_index(mp: pytest.MonkeyPatch) -> None:
    """Skip the search index of an ingest: jieba segments ~200 kB/s, outside this table's
    time budget for the megabyte inputs; the parser is what those cases measure."""
    mp.setattr("huiqi.search.rebuild_index", lambda docs, db: None)


def deny_open(mp: pytest.MonkeyPatch, name: str) -> None:
    """An unreadable file (tests may run as root, for whom chmod 000 changes nothing)."""
    real = Path.open

    def fake(self, *args, **kwargs):
        if self.name == name:
            raise PermissionError(errno.EACCES, "denied", str(self))
        return real(self, *args, **kwargs)

    mp.setattr(Path, "open", fake)


def invoke(args: list[str]):
    return runner.invoke(app, [str(a) for a in args])


# --- checks after a run -------------------------------------------------------------------


def shows(args: list[str], *texts: str, code: int = 0) -> Callable[[Path, str], None]:
    """Run another command afterwards and look for texts in its output."""

    def check(tmp: Path, _out: str) -> None:
        res = invoke([a.replace("{db}", str(tmp / "lib.db")) for a in args])
        assert res.exit_code == code, res.output
        assert "Traceback" not in res.output
        for t in texts:
            assert t in res.output, (t, res.output)
        assert "\x1b[3" not in res.output and "\u202e" not in res.output

    return check


def doc_count(n: int) -> Callable[[Path, str], None]:
    def check(tmp: Path, _out: str) -> None:
        assert len(open_library(tmp / "lib.db").list_documents()) == n

    return check


def only_files(*names: str) -> Callable[[Path, str], None]:
    def check(tmp: Path, _out: str) -> None:
        present = {p.name for p in tmp.iterdir() if p.is_file()}
        assert present == set(names), present

    return check


@dataclass
class Case:
    id: str
    build: Callable[[Path, pytest.MonkeyPatch], list[str]]
    code: int
    says: tuple[str, ...] = ()
    check: Callable[[Path, str], None] | None = None
    lines: int | None = None  # lines read, when the case knows it
    marks: tuple = field(default_factory=tuple)


def C(id, build, code, *says, check=None, lines=None) -> Case:
    return Case(id, build, code, tuple(says), check, lines)


CN43 = next(p for p in bundled_corpus() if p.name.endswith("part1.txt"))

# One row per case, kept on one line each so that the table reads as a table.
# fmt: off
CASES: list[Case] = [
    # --- 1. nothing before the first clause is dropped
    C("preamble kept", lambda t, m: ingest(t, put(t, "n.txt", "焦作市测试通知\n为进一步支持企业发展，现就有关事项通知如下：\n一、奖励10万元。\n")), 0, "3 行归入文件",
      check=shows(["show", "焦作市测试通知", "--db", "{db}"], "为进一步支持企业发展"), lines=3),
    C("corpus 43号 addressee", lambda t, m: ingest(t, CN43), 0, "0 行未入库",
      check=shows(["show", "财税〔2017〕43号", "--json", "--db", "{db}"], "各省、自治区", "为进一步支持小型微利企业发展")),
    C("title only", lambda t, m: ingest(t, put(t, "t.txt", "关于测试的通知\n")), 0, "1 份文件", lines=1),
    C("metadata only", lambda t, m: ingest(t, put(t, "m.txt", "索引号：123\n文号：焦政〔2020〕1号\n")), 0, "标题缺失", lines=2),
    C("numbers only", lambda t, m: ingest(t, put(t, "x.txt", "一、\n二、\n（一）\n1.\n")), 0, "1 份文件", lines=4),
    C("navigation noise", lambda t, m: ingest(t, put(t, "x.txt", "首页 > 政务公开 > 政策文件 > 正文\n" + POLICY)), 0, "1 份文件", lines=8),
    C("compilation part only", lambda t, m: ingest(t, put(t, "x.txt", "第一部分 国家政策\n")), 0, "1 行归入文件", lines=1),
    C("blank lines around", lambda t, m: ingest(t, put(t, "x.txt", "\n\n\n" + POLICY + "\n\n\n")), 0, "1 份文件", lines=13),
    # --- 2. duplicates and same-title conflicts are never hidden (-q)
    C("same text twice", lambda t, m: [*ingest(t, put(t, "a.txt", POLICY), put(t, "b.txt", POLICY)), "-q"], 0, "重复", "a.txt", "b.txt", check=doc_count(1)),
    C("same title other text", lambda t, m: [*ingest(t, put(t, "a.txt", POLICY), put(t, "b.txt", OTHER)), "-q"], 0, "标题相同但内容不同", "b.txt", check=doc_count(2)),
    C("same title later run other file", lambda t, m: [*ingest(t, put(t, "b.txt", OTHER), db=library(t)), "-q"], 0, "内容不同", "两份都保留", check=doc_count(2)),
    # the library's copy came from src/doc.txt: a file of that name is the same source
    C("same file changed later run", lambda t, m: [*ingest(t, put(t, "new/doc.txt", OTHER), db=library(t)), "-q"], 0, "已更新", check=doc_count(1)),
    C("same file unchanged later run", lambda t, m: [*ingest(t, put(t, "new/doc.txt", POLICY), db=library(t)), "-q"], 0, "1 份文件", check=doc_count(1)),
    C("duplicate inside one file", lambda t, m: ingest(t, put(t, "x.txt", "第一部分 文件\n1.关于测试奖励的通知\n一、给予奖励。\n2.关于测试奖励的通知\n一、给予奖励。\n")), 0, "重复", "x.txt"),
    # --- 3. markup, escapes and odd characters in data
    C("markup title", lambda t, m: ingest(t, put(t, "x.txt", "[bold]关于[/]测试的通知\n一、奖励。\n")), 0, "1 份文件",
      check=shows(["docs", "--db", "{db}"], "[/]")),
    C("markup title show", lambda t, m: ingest(t, put(t, "x.txt", "[bold]关于[/]测试的通知\n一、[red]奖励[/red]。\n")), 0, "1 份文件",
      check=shows(["show", "[bold]关于[/]测试的通知", "--db", "{db}"], "[red]奖励[/red]")),
    C("closing tag body", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\n一、[/]奖励[/link]。\n")), 0, "1 份文件",
      check=shows(["show", "关于测试的通知", "--db", "{db}"], "[/]奖励")),
    C("ansi in text", lambda t, m: ingest(t, put(t, "x.txt", "关于\x1b[31m测试\x1b[0m的通知\n一、奖励\x1b]0;title\x07。\n")), 0, "控制字符",
      check=shows(["show", "关于测试的通知", "--db", "{db}"], "一、奖励")),
    C("rtl and zero width", lambda t, m: ingest(t, put(t, "x.txt", "关于\u202e测试\u200b的通知\n一、\u200f奖励\u2066。\n")), 0, "1 份文件",
      check=shows(["docs", "--db", "{db}"], "测试")),
    C("emoji and astral", lambda t, m: ingest(t, put(t, "x.txt", "关于𠀀测试😀的通知\n一、奖励💰。\n")), 0, "1 份文件", lines=2),
    C("private use bullets", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\n\uf0b7\n\uf0b7各单位：\n一、奖励。\n")), 0, "4 行归入文件", lines=4),
    C("form feed vertical tab", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\f\n一、奖励\v。\n")), 0, "1 份文件"),
    C("bom in the middle", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\n\ufeff一、奖励。\n")), 0, "1 份文件"),
    C("markup file name", lambda t, m: ingest(t, put(t, "[/]empty[bold].txt", b"")), 1, "[/]empty[bold].txt", "为空"),
    C("ansi file name", lambda t, m: ingest(t, put(t, "\x1b[31mred.txt", b"")), 1, "red.txt", "为空"),
    # --- 4. skipped files and structure
    C("dir with other files", lambda t, m: ingest(t, (put(t, "d/a.txt", POLICY), put(t, "d/report.pdf", b"%PDF"), put(t, "d/notes.doc", b"x"))[0].parent), 0, "report.pdf", "notes.doc", "跳过"),
    C("empty dir", lambda t, m: ingest(t, (t / "empty").mkdir() or t / "empty"), 1, "没有 .txt、.html 或 .htm 文件"),
    C("dir symlink loop", lambda t, m: ingest(t, (put(t, "d/a.txt", POLICY), os.symlink(t / "d", t / "d" / "loop"))[0].parent), 0, "loop", "未跟随"),
    C("article 1000", lambda t, m: ingest(t, put(t, "x.txt", "焦作市测试办法\n第九百九十九条 甲。\n第一千条 乙。\n第一千零一条 丙。\n")), 0, "1 份文件",
      check=shows(["show", "焦作市测试办法", "--clause", "第一千零一条", "--db", "{db}"], "丙")),
    C("articles on one line", lambda t, m: ingest(t, put(t, "x.txt", "焦作市测试办法\n第一条 总则。第二条 奖励十万元。第三条 自印发之日起施行。\n")), 0, "1 份文件",
      check=shows(["show", "焦作市测试办法", "--clause", "a3", "--db", "{db}"], "自印发之日起施行")),
    C("citation is not an article", lambda t, m: ingest(t, put(t, "x.txt", "焦作市测试办法\n第一条 依照第三条规定。第五条 不在序列中。\n")), 0, "1 份文件",
      check=shows(["show", "焦作市测试办法", "--clause", "a5", "--db", "{db}"], "找不到条款", code=2)),
    C("ten thousand articles", lambda t, m: ingest(t, put(t, "x.txt", articles(10_000))), 0, "10001 行归入文件",
      check=shows(["show", "焦作市测试办法", "--clause", "a10000", "--db", "{db}"], "奖励10000元"), lines=10_001),
    C("deeply nested numbering", lambda t, m: ingest(t, put(t, "x.txt", "焦作市测试方案\n" + "一、甲\n（一）乙\n1.丙\n（1）丁\n①戊\n" * 200)), 0, "1001 行归入文件", lines=1001),
    C("huge doc number", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\n焦政〔2020〕" + "9" * 5000 + "号\n一、奖励。\n")), 0, "1 份文件", lines=3),
    C("many doc numbers", lambda t, m: ingest(t, put(t, "x.txt", "关于测试的通知\n一、根据" + "焦政〔2020〕1号、" * 2000 + "执行。\n")), 0, "1 份文件", lines=2),
    C("one megabyte line", lambda t, m: (no_index(m), ingest(t, put(t, "x.txt", "关于测试的通知\n" + "奖励企业，" * 70_000)))[1], 0, "2 行归入文件", lines=2),
    C("hundred thousand lines", lambda t, m: (no_index(m), ingest(t, put(t, "x.txt", "关于测试的通知\n" + "给予奖励。\n" * 100_000)))[1], 0, "100001 行归入文件", lines=100_001),
    C("crlf", lambda t, m: ingest(t, put(t, "x.txt", POLICY.replace("\n", "\r\n"))), 0, "7 行归入文件", lines=7),
    C("cr only", lambda t, m: ingest(t, put(t, "x.txt", POLICY.replace("\n", "\r"))), 0, "7 行归入文件", lines=7),
    C("no final newline", lambda t, m: ingest(t, put(t, "x.txt", POLICY.rstrip("\n"))), 0, "7 行归入文件", lines=7),
    # --- 5. limits and kinds of file
    C("file over size limit", lambda t, m: (m.setattr(pipeline, "MAX_FILE_BYTES", 100), ingest(t, put(t, "big.txt", POLICY * 5)))[1], 1, "big.txt", "文件过大", "上限"),
    C("file at size limit", lambda t, m: (m.setattr(pipeline, "MAX_FILE_BYTES", len(POLICY.encode())), ingest(t, put(t, "ok.txt", POLICY)))[1], 0, "1 份文件"),
    C("too many files", lambda t, m: (m.setattr(pipeline, "MAX_FILES", 2), ingest(t, *[put(t, f"{k}.txt", POLICY.replace("1号", f"{k}号")) for k in range(3)]))[1], 0, "一次最多读取 2 个文件"),
    C("dev zero", lambda t, m: ingest(t, "/dev/zero"), 1, "/dev/zero", "不是普通文件"),
    C("dev null", lambda t, m: ingest(t, "/dev/null"), 1, "/dev/null", "不是普通文件"),
    C("fifo", lambda t, m: (os.mkfifo(t / "pipe.txt"), ingest(t, t / "pipe.txt"))[1], 1, "pipe.txt", "不是普通文件"),
    C("socket", lambda t, m: (socket.socket(socket.AF_UNIX).bind(str(t / "s.txt")), ingest(t, t / "s.txt"))[1], 1, "s.txt", "不是普通文件"),
    C("missing file", lambda t, m: ingest(t, t / "nope.txt"), 1, "nope.txt", "文件不存在"),
    C("symlink loop file", lambda t, m: (os.symlink(t / "l1.txt", t / "l2.txt"), os.symlink(t / "l2.txt", t / "l1.txt"), ingest(t, t / "l1.txt"))[2], 1, "l1.txt", "符号链接循环"),
    C("dangling symlink", lambda t, m: (os.symlink(t / "gone.txt", t / "link.txt"), ingest(t, t / "link.txt"))[1], 1, "link.txt", "文件不存在"),
    C("unreadable file", lambda t, m: (put(t, "secret.txt", POLICY), deny_open(m, "secret.txt"), ingest(t, t / "secret.txt"))[2], 1, "secret.txt", "没有读取权限"),
    C("unreadable next to good", lambda t, m: (put(t, "secret.txt", POLICY), put(t, "good.txt", POLICY), deny_open(m, "secret.txt"), ingest(t, t / "secret.txt", t / "good.txt"))[3], 0, "secret.txt", "1 份文件"),
    C("nul in path", lambda t, m: ingest(t, str(t / "a\x00b.txt")), 1, "不允许的字符"),
    C("name too long", lambda t, m: ingest(t, t / ("长" * 300 + ".txt")), 1, "路径过长"),
    C("path with spaces", lambda t, m: ingest(t, put(t, "my dir/a file.txt", POLICY)), 0, "1 份文件", lines=7),
    C("path with hash and question", lambda t, m: ingest(t, put(t, "a#b?c.txt", POLICY)), 0, "1 份文件", lines=7),
    # --- 6. decoding
    C("empty file", lambda t, m: ingest(t, put(t, "empty.txt", b"")), 1, "empty.txt", "为空"),
    C("whitespace only", lambda t, m: ingest(t, put(t, "ws.txt", " \n\t\n　\n")), 1, "ws.txt", "为空"),
    C("nul bytes", lambda t, m: ingest(t, put(t, "nul.txt", "关于测试的通知\n".encode() + b"\x00\x00" + "一、奖励。".encode())), 1, "nul.txt", "二进制"),
    C("png", lambda t, m: ingest(t, put(t, "img.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")), 1, "img.txt", "二进制"),
    C("latin-1", lambda t, m: ingest(t, put(t, "l1.txt", "caf\xe9 na\xefve".encode("latin-1"))), 1, "l1.txt", "编码"),
    C("mixed utf-8 and gbk", lambda t, m: ingest(t, put(t, "mix.txt", "关于测试的通知\n一、奖励。\n".encode() + "二、补助十万元。\n".encode("gbk"))), 1, "mix.txt", "编码"),
    C("lone surrogate", lambda t, m: ingest(t, put(t, "s.txt", "关于测试\ud800的通知\n".encode("utf-8", "surrogatepass"))), 1, "s.txt", "编码"),
    C("controls around one character", lambda t, m: ingest(t, put(t, "c.txt", "\x07\x08\x1b[0m\x7f关")), 0, "1 份文件"),
    C("controls without text", lambda t, m: ingest(t, put(t, "c.txt", b"\x07\x08\x1b\x7f\x01\x02")), 1, "c.txt"),
    C("utf-8 with controls", lambda t, m: ingest(t, put(t, "c.txt", POLICY.replace("奖励", "奖\x07励").replace("通知", "通\x01知"))), 0, "已删除 5 个控制字符", lines=7),
    C("utf-16 le bom", lambda t, m: ingest(t, put(t, "u16.txt", POLICY, "utf-16")), 0, "1 份文件", lines=7),
    C("utf-16 be bom", lambda t, m: ingest(t, put(t, "u16be.txt", b"\xfe\xff" + POLICY.encode("utf-16-be"))), 0, "1 份文件", lines=7),
    C("utf-16 broken", lambda t, m: ingest(t, put(t, "u16x.txt", b"\xff\xfe" + "关于".encode("utf-16-le") + b"\x00\xd8")), 1, "u16x.txt", "字节顺序标记"),
    C("utf-8 bom", lambda t, m: ingest(t, put(t, "bom.txt", POLICY, "utf-8-sig")), 0, "1 份文件", lines=7),
    C("gbk", lambda t, m: ingest(t, put(t, "gbk.txt", POLICY, "gbk")), 0, "1 份文件", lines=7),
    C("gb18030", lambda t, m: ingest(t, put(t, "gb.txt", POLICY.replace("测试", "𠀀测试"), "gb18030")), 0, "1 份文件", lines=7),
    # --- 7. bad --db for ingest
    C("ingest db missing dir", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db=t / "no" / "x.db"), 2, "所在目录不存在"),
    C("ingest db is dir", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db=t), 2, "是目录"),
    C("ingest db not sqlite", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db=put(t, "fake.db", "这不是数据库")), 2, "fake.db", "不是 SQLite"),
    C("ingest db unknown scheme", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db="foo://bar/x"), 2, "不支持的数据库类型"),
    C("ingest db url missing dir", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db=f"sqlite:///{t}/no/x.db"), 2, "所在目录不存在"),
    C("ingest db without driver", lambda t, m: ingest(t, put(t, "a.txt", POLICY), db="postgresql://u@localhost:1/x"), 2, "驱动"),
    C("ingest db with hash and question", lambda t, m: (put(t, "src/a.txt", POLICY), ingest(t, t / "src" / "a.txt", db=t / "a#b?c.db"))[1], 0, "a#b?c.search.db",
      check=only_files("a#b?c.db", "a#b?c.search.db")),
    # --- docs
    C("docs missing library", lambda t, m: ["docs", "--db", str(t / "none.db")], 2, "none.db", "政策库不存在", check=only_files()),
    C("docs db is dir", lambda t, m: ["docs", "--db", str(t)], 2, "是目录"),
    C("docs db not sqlite", lambda t, m: ["docs", "--db", str(put(t, "x.db", POLICY))], 2, "不是 SQLite"),
    C("docs db empty file", lambda t, m: ["docs", "--db", str(put(t, "x.db", b""))], 2, "不是惠企政策库"),
    C("docs other sqlite db", lambda t, m: ["docs", "--db", str(index_of(library(t)))], 2, "不是惠企政策库"),
    C("docs corrupt sqlite", lambda t, m: ["docs", "--db", str(put(t, "x.db", b"SQLite format 3\x00" + b"\xff" * 2000))], 2, "无法打开政策库"),
    C("docs in-memory url", lambda t, m: ["docs", "--db", "sqlite:///:memory:"], 2, "不是惠企政策库"),
    C("docs bad url", lambda t, m: ["docs", "--db", "sqlite+nosuchdriver:///x.db"], 2, "不支持的数据库类型"),
    C("docs path with hash", lambda t, m: ["docs", "--db", str(library(t, name="a#b?.db"))], 0, "焦政〔2020〕1号"),
    C("docs json markup", lambda t, m: ["docs", "--json", "--db", str(library(t, "[/]关于测试的通知\n一、奖励。\n"))], 0, "[/]关于测试的通知"),
    # --- show
    C("show closing tag", lambda t, m: ["show", "[/]", "--db", str(library(t))], 2, "找不到文件", "[/]"),
    C("show markup argument", lambda t, m: ["show", "[bold]x[/bold]", "--db", str(library(t))], 2, "[bold]x[/bold]"),
    C("show ansi argument", lambda t, m: ["show", "\x1b[31m红\x1b[0m", "--db", str(library(t))], 2, "找不到文件", "红"),
    C("show bad clause markup", lambda t, m: ["show", "焦政〔2020〕1号", "--clause", "[/]", "--db", str(library(t))], 2, "找不到条款", "[/]"),
    C("show empty argument", lambda t, m: ["show", "", "--db", str(library(t))], 2, "找不到文件"),
    C("show huge argument", lambda t, m: ["show", "关" * 100_000, "--db", str(library(t))], 2, "找不到文件"),
    C("show missing library", lambda t, m: ["show", "x", "--db", str(t / "none.db")], 2, "政策库不存在"),
    C("show db is dir", lambda t, m: ["show", "x", "--db", str(t)], 2, "是目录"),
    C("show preamble", lambda t, m: ["show", "焦政〔2020〕1号", "--db", str(library(t))], 0, "各县（市）区人民政府", "为支持企业发展"),
    # --- search
    C("search query over limit", lambda t, m: ["search", "补" * 501], 2, "501", "500"),
    C("search query at limit", lambda t, m: ["search", "奖励" * 250, "--index", str(index_of(library(t)))], 0, "奖励"),
    C("search closing tag", lambda t, m: ["search", "[/]", "--index", str(index_of(library(t)))], 0, "请输入"),
    C("search markup", lambda t, m: ["search", "[bold]奖励[/bold]", "--index", str(index_of(library(t)))], 0, "奖励"),
    C("search ansi", lambda t, m: ["search", "\x1b[31m奖励", "--index", str(index_of(library(t)))], 0, "奖励"),
    C("search markup title", lambda t, m: ["search", "奖励", "--index", str(index_of(library(t, "[/]关于测试的通知\n一、给予奖励。\n")))], 0, "[/]关于测试的通知"),
    C("search index missing", lambda t, m: ["search", "奖励", "--index", str(t / "none.db")], 2, "找不到检索索引", "none.db"),
    C("search index hash missing", lambda t, m: ["search", "奖励", "--index", str(t / "a#b.db")], 2, "a#b.db", check=only_files()),
    C("search index question", lambda t, m: ["search", "奖励", "--index", str(index_of(library(t, name="a?b#c.db")))], 0, "关于测试奖励的通知",
      check=only_files("a?b#c.db", "a?b#c.search.db")),
    C("search index is dir", lambda t, m: ["search", "奖励", "--index", str(t)], 2, "是目录"),
    C("search index not sqlite", lambda t, m: ["search", "奖励", "--index", str(put(t, "x.db", POLICY))], 2, "x.db", "不是检索索引"),
    C("search index is library", lambda t, m: ["search", "奖励", "--index", str(library(t))], 2, "不是检索索引"),
    C("search limit zero", lambda t, m: ["search", "奖励", "--limit", "0"], 2, "--limit"),
    C("search bad year", lambda t, m: ["search", "奖励", "--from-year", "abc"], 2, "参数错误"),
]
# fmt: on


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load jieba and the rule packs once, so that no case pays for the first use."""
    db = library(tmp_path_factory.mktemp("warm"))
    invoke(["search", "奖励", "--limit", "1", "--index", str(index_of(db))])


def _check_balance(case: Case, out: str) -> None:
    m = BALANCE.search(out)
    assert m, f"ingest printed no line balance:\n{out}"
    lines_in, placed, reported = map(int, m.groups())
    assert lines_in == placed + reported, out
    if case.lines is not None:
        assert lines_in == case.lines, out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a stray file would land here and fail only_files()
    work = tmp_path / "work"
    work.mkdir()
    args = case.build(work, monkeypatch)
    started = time.perf_counter()
    result = invoke(args)
    elapsed = time.perf_counter() - started
    out = result.output
    assert result.exit_code == case.code, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in out
    assert "\x1b[31m" not in out and "\x1b]" not in out and "\u202e" not in out
    for text in case.says:
        assert text in out, (text, out)
    if args[0] == "ingest" and case.code != 2:  # 2: the library could not be opened
        _check_balance(case, out)
    assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s"
    if case.check is not None:
        case.check(work, out)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 70


# --- property: every line is placed or reported ---------------------------------------------

CORPUS_LINES = [
    line for p in bundled_corpus() for line in p.read_text(encoding="utf-8").split("\n")
]
FRAGMENTS = [
    *CORPUS_LINES[::7],
    "第一千条 奖励。",
    "第二条 甲。第三条 乙。",
    "各县（市）区人民政府：",
    "为进一步支持企业发展，现就有关事项通知如下：",
    "第一部分 国家政策",
    "1.关于测试的通知",
    "索 引 号：123",
    "首页 > 政策 > 正文 > 通知",
    "",
    "   ",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=40), st.booleans())
def test_every_line_is_placed_or_reported(lines: list[str], twice: bool) -> None:
    text = "\n".join(lines)
    rejections: list[pipeline.Rejection] = []
    docs = parse_text(text, "x.txt", rejections)
    placed = sum(d.lines_placed for d in docs)
    reported = sum(r.lines for r in rejections)
    assert placed + reported == len(pipeline.split_lines(text))
    # through ingest_paths (duplicates across files are reported, not lost)
    if twice and text.strip():
        result = pipeline.IngestResult()
        result.lines_in = 2 * len(pipeline.split_lines(text))
        both = parse_text(text, "a.txt", result.rejections) + parse_text(
            text, "b.txt", result.rejections
        )
        result.documents = pipeline._unique(both, result)
        assert result.balanced
