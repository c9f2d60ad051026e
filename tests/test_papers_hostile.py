"""Hostile and huge papers files: each one fails in one ConfigError naming the file (and
the paper, key or line), before it can allocate, format or run anything; a long but
honest file loads.

The rows of the README's fault table are recorded with `fault_report` (tests/faults_report.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys

import pytest

from bench.config_bench import papers_file
from papers import catalogue
from papers.catalogue import ConfigError, load_papers, read_papers

PAPER = """- id: lol
  name: 笑报
  family: whb
  edition_url: "{url}"
"""
# 9 levels of 9 aliases: 9**9 "lol"s (some 3 GB as text) from 1 KB of YAML
LAUGHS = (
    PAPER.format(url="http://127.0.0.1:9/{date:%Y-%m-%d}/1/index.html")
    + "  schedule: ["
    + ", ".join(
        [f"&l1 [{', '.join(['lol'] * 9)}]"]
        + [f"&l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(2, 10)]
    )
    + "]\n"
)


def write(tmp_path, content: str | bytes, name: str = "papers.yaml"):
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def refused(path) -> str:
    """The one error a hostile file gives; the file itself is left as it was."""
    before = hashlib.sha256(path.read_bytes()).digest()
    with pytest.raises(ConfigError) as error:
        read_papers(path)
    assert hashlib.sha256(path.read_bytes()).digest() == before
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 400, message
    return message


@pytest.mark.parametrize("parser", ["libyaml", "pure-python"])
def test_billion_laughs_is_refused_at_its_first_anchor(tmp_path, monkeypatch, fault_report, parser):
    if parser == "pure-python":  # what runs where PyYAML has no libyaml
        monkeypatch.setattr(catalogue, "_Parser", catalogue._PurePythonParser)
    path = write(tmp_path, LAUGHS)
    assert len(LAUGHS) < 1100
    message = refused(path)
    assert "line 5: YAML anchor &l1: anchors and aliases are not allowed" in message
    alias_only = write(
        tmp_path, PAPER.format(url="http://h/{date:%Y}") + "  region: *somewhere\n", "alias.yaml"
    )
    assert "line 5: YAML alias *somewhere" in refused(alias_only)
    assert load_papers()  # the built-in catalogue is untouched by it
    if parser == "libyaml":
        fault_report.row(
            "papers.yaml billion laughs (1 KB of nested aliases: 9**9 strings)",
            "one ConfigError naming the file and the line of the first anchor, before any "
            "alias is expanded (anchors and aliases are refused)",
            "the file unchanged; nothing runs; the built-in catalogue still loads",
        )


def test_the_pure_python_parser_reads_the_catalogue_as_libyaml_does(monkeypatch):
    with_libyaml = load_papers()
    monkeypatch.setattr(catalogue, "_Parser", catalogue._PurePythonParser)
    assert load_papers() == with_libyaml


def test_billion_laughs_at_the_cli_is_one_error_line(tmp_path):
    path = write(tmp_path, LAUGHS)
    run = subprocess.run(
        [sys.executable, "-m", "epaper.cli", "papers", "--papers", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EPAPER_HOME": str(tmp_path / "home")},
    )
    assert run.returncode == 1 and run.stdout == ""
    expected = (
        f"epaper: error: {path}: line 5: YAML anchor &l1: anchors and aliases are not allowed"
    )
    assert run.stderr.splitlines() == [expected]


ABUSE = [
    "http://h/{date.year:999999999}",  # a 1 GB string on every load
    "http://h/{date.__class__}",  # attribute lookups
    "http://h/{date.__class__.__init__.__globals__}",
    "http://h/{date!r:%Y}",  # conversions
    "http://h/{date[0]}",
    "http://h/{0:%Y}",
    "http://h/{:%Y}",
    "http://h/{year:%Y}",
    "http://h/{date}",  # no FORMAT
    "http://h/{date:%Y%Q}",  # not a strftime directive
    "http://h/{date:%Y%}",
    "http://h/{date:{date:%Y}}",  # nested fields
    "http://h/{date:" + "%Y" * 40 + "}",  # longer than MAX_DATE_FORMAT
    "http://h/{date:%Y\n}",
    "http://h/{date:%Y",
    "http://h/{date:%Y}}",
]


def test_template_abuse_is_refused_naming_the_paper_and_the_key(tmp_path, fault_report):
    for template in ABUSE:
        message = refused(write(tmp_path, PAPER.format(url=template.replace("\n", "\\n"))))
        assert "paper 'lol': key 'edition_url': bad " in message, (template, message)
    in_an_era = write(
        tmp_path,
        """- id: lol
  name: 笑报
  eras:
    - to: 2024-11-30
      family: founder-classic
      edition_url: "http://h/html/{date:%Y-%m/%d}/node_1.htm"
    - from: 2024-12-01
      family: founder-new
      edition_url: "http://h/{date.year:999999999}"
""",
        "eras.yaml",
    )
    assert (
        "paper 'lol': key 'eras[1].edition_url': bad placeholder '{date.year:999999999}'"
        in refused(in_an_era)
    )
    fault_report.row(
        "papers.yaml template abuse: `{date.year:999999999}`, `{date.__class__}`, "
        "`{date!r}`, `{0}`, non-strftime or over-long FORMAT, unbalanced braces",
        "one ConfigError naming the file, the paper and the key (eras[i].edition_url "
        "in an era); only {date:FORMAT} with a strftime FORMAT of at most 64 characters "
        "is formatted",
        "the file unchanged; nothing formatted or fetched",
    )


def test_templates_that_only_format_the_date_still_load(tmp_path):
    url = "http://h/{date:%Y}/{date:%-m/%-d}/{{literal}}/{date:%Y年%m月%d日}/{date:%Y%m%d}.htm?x=1"
    paper = read_papers(write(tmp_path, PAPER.format(url=url)))["lol"]
    assert (
        paper.edition_url(dt.date(2025, 4, 3))
        == "http://h/2025/4/3/{literal}/2025年04月03日/20250403.htm?x=1"
    )


def test_a_file_not_in_utf8_is_named_with_the_byte_offset(tmp_path, fault_report):
    head = PAPER.format(url="http://h/{date:%Y}").encode("utf-8")
    path = write(tmp_path, head + "  region: 上海市\n".encode("gbk"))
    message = refused(path)
    assert (
        f"not UTF-8: byte 0xc9 at byte offset {len(head) + len(b'  region: ')} (line 5)" in message
    )
    utf16 = write(tmp_path, PAPER.format(url="http://h/{date:%Y}").encode("utf-16"), "utf16.yaml")
    assert "not UTF-8: byte 0xff at byte offset 0 (line 1)" in refused(utf16)
    fault_report.row(
        "papers.yaml not UTF-8 (GBK, UTF-16)",
        "one ConfigError naming the file, the first bad byte, its byte offset and its line",
        "the file unchanged; nothing runs",
    )


@pytest.mark.parametrize(
    "content, problem",
    [
        (PAPER + "  region: " + "长" * 4097 + "\n", "line 5: a value longer than 4096 characters"),
        ("[" * 17 + "]" * 17, "line 1: nested deeper than 16 levels"),
        (
            "- !!python/object/apply:os.system [true]\n",
            "line 1: tag 'tag:yaml.org,2002:python/object/apply:",
        ),
        ("- !!set {a, b}\n", "line 1: tag 'tag:yaml.org,2002:set' is not allowed"),
        ("- ? [id]\n  : x\n", "line 1: a mapping key must be a plain value"),
        ("- id: x\n  name: n\n  id: y\n", "line 3: key 'id' appears twice in one mapping"),
        (
            "- id: x\n  eras:\n    - from: 2024-13-45\n",
            "line 3: bad value '2024-13-45' (month must be in 1..12)",
        ),
        ("- id: a\n---\n- id: b\n", "line 2: more than one YAML document"),
        ("- id: [x\n", "not valid YAML (line 2): did not find expected ',' or ']'"),
        ("- id: x\n  name: n\n  1: one\n  zz: two\n", "paper 'x': key '1': unknown key"),
        ("- [" + "lol, " * 1000 + "]\n", "each entry must be a mapping, got ['lol', 'lol', "),
        (
            PAPER + "  timezone: Asia\n",
            "paper 'lol': key 'timezone': unknown time zone 'Asia'",
        ),  # a folder
        (
            PAPER + "  timezone: Asia/" + "x" * 300 + "\n",
            "paper 'lol': key 'timezone': unknown time zone",
        ),
        (
            PAPER + '  encoding: "utf\\0"\n',
            "paper 'lol': key 'encoding': unknown text encoding 'utf\\x00'",
        ),
        (
            PAPER + "  encoding: base64\n",
            "paper 'lol': key 'encoding': unknown text encoding 'base64'",
        ),
    ],
)
def test_other_hostile_yaml_is_refused_with_its_line(tmp_path, content, problem):
    content = content.replace("{url}", "http://h/{date:%Y}")
    assert problem in refused(write(tmp_path, content))


def test_a_file_larger_than_16_mib_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:  # sparse: zero bytes on no disk
        file.truncate(catalogue.MAX_FILE_BYTES + 1)
    assert "larger than 16 MiB: not a papers file" in refused(path)
    with path.open("r+b") as file:
        file.truncate(catalogue.MAX_FILE_BYTES)
    assert "larger than" not in refused(path)  # 16 MiB is read (and its NUL bytes refused)
    with pytest.raises(ConfigError, match="^/dev/zero: larger than 16 MiB"):  # no size to stat
        read_papers("/dev/zero")
    with pytest.raises(ConfigError, match=f"^{tmp_path}: cannot read: Is a directory"):
        read_papers(tmp_path)


def test_a_file_of_30000_papers_loads(tmp_path, fault_report):
    path = write(tmp_path, papers_file(30000))
    papers = read_papers(path)
    assert len(papers) == 30000
    assert (
        papers["paper-29999"].edition_url(dt.date(2025, 4, 3))
        == "http://epaper29999.example.cn/pc/layout/202504/03/node_01.html"
    )
    with_eras = papers["paper-29995"]
    assert with_eras.era(dt.date(2024, 11, 30)).family == "founder-classic"
    assert with_eras.edition_url(dt.date(2024, 12, 1)).endswith("/pc/layout/202412/01/node_01.html")
    assert papers["paper-1234"].schedule == "34 20 * * *"
    fault_report.row(
        "papers.yaml with 30,000 entries (8 MiB)",
        "loads in seconds (libyaml events into plain data, cron checks cached): "
        "`python -m bench.config_bench`",
        "every entry loaded, eras and schedules as written",
    )
