"""Hostile inputs for `match`, `check`, `test` and `--pack`: every one ends in a clear error
(or a correct answer) with the right exit status, never a traceback, a hang or a silent change.

Profiles go through the one strict reader (huiqi.safeyaml: size, alias expansion, depth,
duplicate keys, decimal integers, real dates); rule packs through the same reader plus a
schema of the keys each place of a rule file may hold.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import copy_policies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.engine.profile import ProfileError, read_profile_text, validate_profile
from huiqi.errors import PackError, PackErrors
from huiqi.packs.loader import bundled_pack, load_pack
from huiqi.packs.rules import load_rule_file
from huiqi.safeyaml import InputError, load_yaml_text

runner = CliRunner()
RULE = "jz.kjjl.gaoqi_first_cert"


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _nested(depth: int) -> str:
    return "label: x\nregistered_place: " + "[" * depth + "1" + "]" * depth + "\n"


# (name, file suffix, bytes or text, expected exit code, words the message must contain)
PROFILES: list[tuple[str, str, str | bytes, int, list[str]]] = [
    ("alias bomb 9 levels", ".yaml", _bomb(9), 2, ["内容过多"]),
    ("alias bomb 5 levels", ".yaml", _bomb(6), 2, ["内容过多"]),
    ("deep nesting", ".yaml", _nested(30), 2, ["嵌套过深"]),
    ("deep json", ".json", '{"label": ' + "[" * 30 + "1" + "]" * 30 + "}", 2, ["嵌套过深"]),
    ("duplicate key", ".yaml", "label: a\nlabel: b\n", 2, ["重复", ":2"]),
    ("duplicate json key", ".json", '{"label": "a", "label": "b"}', 2, ["重复"]),
    ("impossible date", ".yaml", "as_of: 2018-02-30\n", 2, ["无效的日期", ":1"]),
    ("timestamp as_of", ".yaml", "as_of: 2018-02-01 10:00:00\nlabel: 测试\n", 0, []),
    ("as_of text", ".yaml", "as_of: 昨天\n", 2, ["as_of", "日期"]),
    ("as_of iso basic", ".yaml", "as_of: 20180201\n", 0, []),
    ("as_of list", ".yaml", "as_of: [2018]\n", 2, ["as_of"]),
    ("root list", ".yaml", "- a\n- b\n", 2, ["映射"]),
    ("root scalar", ".yaml", "hello\n", 2, ["映射"]),
    ("empty file", ".yaml", "", 2, ["文件为空"]),
    ("only a comment", ".yaml", "# nothing\n", 2, ["映射"]),
    ("json root list", ".json", "[1, 2]", 2, ["映射"]),
    ("json syntax", ".json", '{"label": }', 2, ["JSON"]),
    ("yaml syntax", ".yaml", "label: [unclosed\n", 2, ["YAML"]),
    ("tab indentation", ".yaml", "label:\n\t- x\n", 2, ["YAML"]),
    ("unknown field", ".yaml", "no_such_fact: 1\n", 2, ["no_such_fact", "未知字段"]),
    ("label list", ".yaml", "label: [a]\n", 2, ["label"]),
    ("label markup", ".yaml", "label: '[/]'\n", 0, []),
    ("label bold markup", ".yaml", "label: '[bold red]x[/]'\n", 0, []),
    ("label ansi", ".yaml", 'label: "\\e[31mred"\n', 0, []),
    ("long label", ".yaml", "label: " + "长" * 3000 + "\n", 2, ["文字过长"]),
    ("applicant unknown", ".yaml", "applicant: 公司\n", 2, ["applicant"]),
    ("applicant list", ".yaml", "applicant: [企业]\n", 2, ["applicant"]),
    ("applicant chinese", ".yaml", "applicant: 企业\n", 0, []),
    ("received not list", ".yaml", "received_benefits: 5\n", 2, ["received_benefits"]),
    ("received item scalar", ".yaml", "received_benefits: [5]\n", 2, ["received_benefits[0]"]),
    (
        "received rule list",
        ".yaml",
        "received_benefits: [{rule: [a], amount: 1}]\n",
        2,
        ["received_benefits[0].rule"],
    ),
    (
        "received unknown rule",
        ".yaml",
        "received_benefits: [{rule: jz.nope, amount: 1}]\n",
        2,
        ["未知规则编号"],
    ),
    (
        "received extra key",
        ".yaml",
        f"received_benefits: [{{rule: {RULE}, amount: 1, when: 1}}]\n",
        2,
        ["未知字段"],
    ),
    (
        "received huge amount",
        ".yaml",
        f"received_benefits: [{{rule: {RULE}, amount: 100000000000000000000000000}}]\n",
        2,
        ["数值过大"],
    ),
    (
        "received negative amount",
        ".yaml",
        f"received_benefits: [{{rule: {RULE}, amount: -5}}]\n",
        2,
        ["下限"],
    ),
    (
        "received amount text",
        ".yaml",
        f"received_benefits: [{{rule: {RULE}, amount: 很多}}]\n",
        2,
        ["金额"],
    ),
    (
        "received key dict",
        ".yaml",
        f"received_benefits: [{{rule: {RULE}, amount: 1, key: {{a: 1}}}}]\n",
        2,
        ["key"],
    ),
    (
        "received too many",
        ".yaml",
        "received_benefits:\n" + f"  - {{rule: {RULE}, amount: 1}}\n" * 1001,
        2,
        ["上限"],
    ),
    ("place unknown", ".yaml", "registered_place: 火星\n", 2, ["registered_place", "应为以下之一"]),
    ("place number", ".yaml", "registered_place: 1\n", 2, ["registered_place"]),
    ("place null", ".yaml", "registered_place: null\n", 2, ["registered_place", "不能为空"]),
    ("place known", ".yaml", "registered_place: 孟州市\n", 0, []),
    ("binary", ".yaml", b"\x00\x01\x02\xff\xfe" * 50, 2, ["无法读取"]),
    ("gbk", ".yaml", "label: 测试企业\n".encode("gbk"), 0, []),
    ("gb18030", ".yaml", "label: 测试企业𠀀\n".encode("gb18030"), 0, []),
    ("utf8 bom", ".yaml", "\ufefflabel: 测试企业\n".encode(), 0, []),
    ("too large", ".yaml", "label: x\n" + "# padding\n" * 110_000, 2, ["文件过大"]),
    ("octal-looking year", ".yaml", "as_of: 010\n", 2, ["as_of"]),
    ("sexagesimal", ".yaml", "label: 1:30\n", 0, []),
    ("yes is text", ".yaml", "label: yes\n", 0, []),
    ("python tag", ".yaml", "label: !!python/object/apply:os.system ['true']\n", 2, ["YAML"]),
    ("custom tag", ".yaml", "label: !foo bar\n", 2, ["YAML"]),
    ("non-string key", ".yaml", "? [a, b]\n: 1\n", 2, ["键"]),
    ("json nan", ".json", '{"label": NaN}', 2, ["NaN"]),
    ("json huge number", ".json", '{"as_of": 1e999}', 2, ["as_of"]),
    ("control chars", ".yaml", 'label: "a\\x07b"\n', 0, []),
    ("zero-width", ".yaml", "label: \u200b\u200d测试\n", 0, []),
]


def _write(tmp_path: Path, suffix: str, content: str | bytes) -> Path:
    path = tmp_path / f"p{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("suffix", "content", "code", "words"),
    [p[1:] for p in PROFILES],
    ids=[p[0] for p in PROFILES],
)
def test_hostile_profiles(tmp_path, suffix, content, code, words):
    path = _write(tmp_path, suffix, content)
    start = time.perf_counter()
    result = runner.invoke(app, ["match", str(path), "--as-of", "2018-06-30"])
    elapsed = time.perf_counter() - start
    out = result.output
    assert result.exit_code == code, out
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    for w in words:
        assert w in out, (w, out)
    assert elapsed < 15, elapsed  # a hang is minutes; this bound only catches those


def test_profile_errors_do_not_print_huge_values(tmp_path):
    path = _write(tmp_path, ".yaml", "registered_place: " + "火" * 1500 + "\n")
    result = runner.invoke(app, ["match", str(path)])
    assert result.exit_code == 2 and len(result.output) < 3000


def test_missing_profile_and_directory(tmp_path):
    result = runner.invoke(app, ["match", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "找不到画像文件" in result.output
    result = runner.invoke(app, ["match", str(tmp_path)])
    assert result.exit_code == 2 and "不是普通文件" in result.output


@pytest.mark.parametrize("when", ["2018-13-01", "yesterday", "2018/02/01", " ", "[/]"])
def test_bad_as_of_option(tmp_path, when):
    path = _write(tmp_path, ".yaml", "label: x\n")
    result = runner.invoke(app, ["match", str(path), "--as-of", when])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- --pack --------------------------------------------------------------------------------

BAD_PACKS = ["nosuch", "jiaozou", "../jiaozuo", "/etc", "jiaozuo/../cn", "", ".", "[/]", "cn\n"]


@pytest.mark.parametrize("command", ["rules", "check", "test", "coverage"])
@pytest.mark.parametrize("name", BAD_PACKS)
def test_unknown_pack_is_an_error(command, name):
    result = runner.invoke(app, [command, "--pack", name])
    assert result.exit_code == 2, result.output
    assert "没有名为" in result.output and "可用" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_pack_in_match_and_search(tmp_path):
    path = _write(tmp_path, ".yaml", "label: x\n")
    assert runner.invoke(app, ["match", str(path), "--pack", "nosuch"]).exit_code == 2
    assert runner.invoke(app, ["search", "人才", "--pack", "nosuch"]).exit_code == 2


# --- rule packs ----------------------------------------------------------------------------

# (name, file, old text, new text, words the check error must contain)
PACK_EDITS = [
    ("exclusion typo", "rules/kjjl.yaml", "exclusions:\n", "exclusion:\n", ["exclusion"]),
    ("when typo in exclusion", "rules/kjjl.yaml", "    when: fraud", "    wehn: fraud", ["wehn"]),
    (
        "rule key typo",
        "rules/kjjl.yaml",
        "    amount: {fixed: 20万}",
        "    amout: {fixed: 20万}",
        ["amout"],
    ),
    (
        "amount key typo",
        "rules/kjjl.yaml",
        "amount: {fixed: 20万}",
        "amount: {fixd: 20万}",
        ["fixd"],
    ),
    (
        "apply key typo",
        "rules/kjjl.yaml",
        "    window_months:",
        "    window_month:",
        ["window_month"],
    ),
    ("defaults typo", "rules/kjjl.yaml", "  kind: one_time", "  knd: one_time", ["knd"]),
    ("top-level typo", "rules/kjjl.yaml", "prefix: jz.kjjl", "prefx: jz.kjjl", ["prefx"]),
    (
        "division by zero",
        "rules/kjjl.yaml",
        "amount: {fixed: 20万}",
        "amount: {fixed: 20万 / 0}",
        ["除数为 0"],
    ),
    (
        "duplicate key",
        "rules/kjjl.yaml",
        "prefix: jz.kjjl\n",
        "prefix: jz.kjjl\nprefix: jz.x\n",
        ["重复"],
    ),
    ("tab", "rules/kjjl.yaml", "prefix: jz.kjjl\n", "prefix: jz.kjjl\n\tx: 1\n", ["YAML"]),
    (
        "bad date",
        "rules/kjjl.yaml",
        "prefix: jz.kjjl\n",
        "prefix: jz.kjjl\nx: 2018-02-30\n",
        ["无效的日期"],
    ),
    (
        "python tag",
        "rules/kjjl.yaml",
        "prefix: jz.kjjl",
        "prefix: !!python/name:os.system",
        ["YAML"],
    ),
    (
        "deep expression",
        "rules/kjjl.yaml",
        "amount: {fixed: 20万}",
        "amount: {fixed: " + "abs(" * 80 + "20万" + ")" * 80 + "}",
        ["嵌套过深"],
    ),
    (
        "long or chain",
        "rules/kjjl.yaml",
        "    when: fraud_or_duplicate_claim",
        "    when: " + " or ".join(["fraud_or_duplicate_claim"] * 600),
        ["表达式过长"],
    ),
    (
        "long plus chain",
        "rules/kjjl.yaml",
        "amount: {fixed: 20万}",
        "amount: {fixed: " + " + ".join(["1"] * 300) + "}",
        ["嵌套过深"],
    ),
    ("enum typo", "rules/kjjl.yaml", '"省创新龙头企业"', '"省创新龙头"', ["省创新龙头"]),
    (
        "validity order",
        "rules/kjjl.yaml",
        "  kind: one_time",
        "  kind: one_time\n  validity: {from: 2020-01-01, to: 2019-01-01}",
        ["晚于"],
    ),
    ("jurisdiction key typo", "jurisdiction.yaml", "level: city", "levle: city", ["levle"]),
    ("jurisdiction parent", "jurisdiction.yaml", "extends: henan", "extends: hennan", ["hennan"]),
    (
        "variables bomb",
        "variables.yaml",
        "variables:\n",
        "x: "
        + _bomb(9).replace("\n", "\n  ").replace("a0:", "{}\nbomb:\n  a0:")
        + "\nvariables:\n",
        ["内容过多"],
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "words"), [e[1:] for e in PACK_EDITS], ids=[e[0] for e in PACK_EDITS]
)
def test_pack_typos_are_errors(tmp_path, file, old, new, words):
    root = copy_policies(tmp_path) / "jiaozuo"
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises((PackErrors, PackError)) as info:
        pack = load_pack(root)
        from huiqi.authoring.check import check_pack

        problems = check_pack(pack)
        if problems:
            raise PackErrors(problems)
    messages = str(info.value) + " ".join(str(e) for e in getattr(info.value, "errors", []))
    for w in words:
        assert w in messages, (w, messages[:2000])
    assert (
        time.perf_counter() - start < 60
    )  # a guard against hangs, not a speed target (bench/ holds those)


def test_gbk_rule_file_is_read(tmp_path):
    root = copy_policies(tmp_path) / "jiaozuo"
    path = root / "rules" / "kjjl.yaml"
    path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    assert "jz.kjjl.gaoqi_first_cert" in load_pack(root).by_id


def test_binary_rule_file_names_the_file(tmp_path):
    root = copy_policies(tmp_path) / "jiaozuo"
    (root / "rules" / "kjjl.yaml").write_bytes(b"\x00\xff\xfe\x01" * 100)
    with pytest.raises(PackErrors) as info:
        load_pack(root)
    assert any("kjjl.yaml" in str(e) for e in info.value.errors)


def test_broken_case_file_names_the_file(tmp_path):
    root = copy_policies(tmp_path) / "jiaozuo"
    (root / "tests" / "kjjl.yaml").write_text(
        "cases:\n  - name: a\n    name: b\n", encoding="utf-8"
    )
    from huiqi.authoring.cases import load_cases

    with pytest.raises(PackError, match=r"kjjl\.yaml"):
        load_cases(load_pack(root))


# --- fuzzing -------------------------------------------------------------------------------

PACK = bundled_pack()
yaml_texts = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "label: ",
                "as_of: ",
                "- ",
                "[",
                "]",
                "{",
                "}",
                "&a ",
                "*a",
                "!!str ",
                "\n",
                "  ",
                "2018-02-30",
                "010",
                "registered_place",
                ": ",
                '"',
                "'",
                "#",
                "received_benefits",
                "applicant",
                "孟州市",
                "1e999",
                "~",
                "<<: *a",
                "\t",
                "? ",
                "|",
                ">",
            ]
        ),
        max_size=40,
    ).map("".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=yaml_texts)
def test_profile_reader_never_crashes(text):
    _read_and_validate(lambda: read_profile_text(text, "fuzz.yaml"))


def test_blank_field_name_is_named():
    """Found by the fuzz test above: {"": 1} was reported with an empty path."""
    for blank in ("", "  "):
        with pytest.raises(ProfileError) as exc:
            validate_profile({blank: 1}, PACK.variables, set(PACK.by_id), PACK.entities)
        assert [(p.path, p.reason) for p in exc.value.problems] == [
            ("（空字段名）", "字段名为空，请填写变量名")
        ]


def _read_and_validate(read) -> None:
    """Reading and validating either gives a profile or fails with an error that says what is
    wrong and where (never another exception, never an empty message)."""
    try:
        data = read()
    except InputError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)
        return
    try:
        profile = validate_profile(data, PACK.variables, set(PACK.by_id), PACK.entities)
    except ProfileError as exc:
        assert exc.problems, "a ProfileError lists its problems"
        assert all(p.path and p.reason for p in exc.problems), exc.problems
        return
    assert isinstance(profile.facts, dict)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=yaml_texts)
def test_json_profile_reader_never_crashes(text):
    _read_and_validate(
        lambda: read_profile_text(json.dumps(text) if len(text) % 2 else text, "f.json", json_=True)
    )


rule_texts = st.lists(
    st.sampled_from(
        [
            "document: 焦作市科技创新奖励资金管理暂行办法\n",
            "rules:\n",
            "  - id: jz.x.y\n",
            "    title: 测试\n",
            "    clause: 第六条\n",
            "    quote: 奖励20万元。\n",
            "    when: a and\n",
            "    when: [1, {expr: x}]\n",
            "    amount: {fixed: 20万}\n",
            "    amount: {percent: 10%}\n",
            "    amount: 5\n",
            "    stacking: {policy: x}\n",
            "    validity: {from: 2020-13-01}\n",
            "exclusions: [{when: (}]\n",
            "provisions: 3\n",
            "    context: [1]\n",
            "    apply: []\n",
            "defaults: {kind: x}\n",
            "  - 7\n",
            "rules: {}\n",
        ]
    ),
    max_size=15,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rule_texts)
def test_rule_file_reader_never_crashes(text):
    from huiqi.packs.yamlio import _Loader

    try:
        data = load_yaml_text(text, "fuzz.yaml", loader=_Loader)
    except InputError:
        return
    rfile, problems = load_rule_file(data, "fuzz.yaml")
    assert rfile is not None or problems
    for p in problems:
        assert str(p)


def test_a_context_entry_that_is_not_a_mapping_is_named() -> None:
    """Found by the fuzz test above: `context: [5]` crashed the reader."""
    from huiqi.packs.yamlio import _Loader

    text = (
        "document: 测试文件\nrules:\n  - id: jz.kjjl.x_y\n    title: 标题\n    clause: 第一条\n"
        "    quote: 原文\n    when: 'true'\n    context: [{quote: 相关原文}, 5]\n"
    )
    _, problems = load_rule_file(load_yaml_text(text, "bad.yaml", loader=_Loader), "bad.yaml")
    named = [str(p) for p in problems if "context" in str(p)]
    assert named == [
        "bad.yaml:3 jz.kjjl.x_y context[1]: context 的每一项须写明 quote（相关条款的原文）"
    ]


def test_the_strict_reader_parses_with_libyaml(tmp_path):
    """Pack files are read by libyaml's parser, not PyYAML's pure-Python one: the name the
    reader looked for was never exported by PyYAML, so every pack load ran about ten times
    slower in parsing (a whole pack's cold load 1.3 s instead of 0.8 s)."""
    import yaml
    from yaml.cyaml import CParser

    from huiqi.packs.yamlio import load_yaml
    from huiqi.safeyaml import StrictLoader

    assert yaml.__with_libyaml__  # the locked PyYAML wheel is built with it
    assert issubclass(StrictLoader, CParser)
    # lines and columns still come with the values the pack loader keeps
    path = tmp_path / "r.yaml"
    path.write_text("id: a\nwhen:\n  all:\n    - x > 1\n", encoding="utf-8")
    data = load_yaml(path)
    assert (data.line, data.key_lines, data["when"].line) == (1, {"id": 1, "when": 3}, 3)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a:\n\tb: 1\n", ":2:", "不要用制表符"),
        ("title: 条件: 注册地\n", ":1:", "冒号后的文字含冒号时请加引号"),
        ("a:\n  b: 1\n c: 2\n", ":3:", "缩进不一致"),
        ("a: [1, 2\n", ":2:", "方括号“[”没有闭合"),
        ('a: "abc\n', ":2:", "引号或括号没有闭合"),
        ("a: *x\n", ":1:", "未定义的锚点"),
        ("a: 1\nb: \x07\n", ":2", "控制字符"),
        ("a: 1\n---\nb: 2\n", ":2:", "只能有一个文档"),
    ],
)
def test_yaml_syntax_errors_are_told_in_chinese(text, where, words):
    """What the parser says about a syntax error reaches the user in Chinese, with the line
    (libyaml's own words are English)."""
    with pytest.raises(InputError) as info:
        load_yaml_text(text, "档案.yaml")
    message = str(info.value)
    assert message.startswith("档案.yaml" + where) and words in message, message
    assert not any("a" <= ch.lower() <= "z" for ch in message.split("格式错误：", 1)[1]), message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": 1,}', "键应为双引号括起的文字"),
        ('{"a" 1}', "缺少冒号"),
        ("[1 2]", "缺少逗号"),
        ('"abc', "引号没有闭合"),
        ('{"a": 1} x', "多余的文字"),
        ("", "缺少值"),
    ],
)
def test_json_syntax_errors_are_told_in_chinese(text, words):
    from huiqi.safeyaml import load_json_text

    with pytest.raises(InputError) as info:
        load_json_text(text, "档案.json")
    message = str(info.value)
    assert message.startswith("档案.json:1:") and words in message, message
    assert not any("a" <= ch.lower() <= "z" for ch in message.split("格式错误：", 1)[1]), message
