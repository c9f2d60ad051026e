"""The fault-injection suite's report: what each fault did, and that nothing was lost.

The tests record rows as they pass (`fault_report` fixture) into pytest's cache folder;
this module writes them as the Markdown table into the README, with the faults that
other test files already cover, and the outcome of every test of the last run:

    .venv/bin/pytest $(python -m tests.faults_report --files)
    .venv/bin/python -m tests.faults_report

A row is written only after the test's own assertions about it have passed, so the
table says what the suite saw, never what it hoped for. A test that records its row
and then fails (a strict xfail: a known gap) keeps its row, marked as such.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".pytest_cache"
ROWS = CACHE / "d" / "epaper-faults"  # what config.cache.mkdir("epaper-faults") gives

# The test files that record rows, in the table's order.
FILES = [
    f"tests/{name}.py"
    for name in (
        "test_faults_site",
        "test_faults_process",
        "test_security",
        "test_confinement_e2e",
        "test_odd_links",
        "test_deadlines",
        "test_bombs",
        "test_pdf_bounds",
        "test_papers_hostile",
        "test_full_and_down",
        "test_signals",
        "test_checks",
    )
]

# Faults whose tests live elsewhere (reused, not duplicated): (fault, what the system does, test).
ELSEWHERE = [
    (
        "Bad config: unknown family, template without {date}, bad cron, unknown key, bad id",
        "one ConfigError naming the file, the paper and the key; nothing runs",
        "tests/test_config.py::test_bad_entries_name_the_paper_and_the_key",
    ),
    (
        "Bad config: duplicate paper ids",
        "one ConfigError naming the paper id",
        "tests/test_config.py::test_duplicate_paper_ids_are_refused",
    ),
    (
        "Bad input at the CLI: unknown paper, bad date, template without {date}, unreachable site, "
        "bad S3 endpoint or secret",
        "exit 1 with one `epaper: error:` line; no object written",
        "tests/test_edition.py::test_bad_input_fails_in_one_line_and_changes_nothing",
    ),
    (
        "Missing edition: 404, 301 to the home page",
        "exit 0, `no edition (…)`, nothing written",
        "tests/test_spiders.py::test_missing_dates_are_not_errors, "
        "tests/test_edition.py::test_missing_edition_is_not_an_error",
    ),
    (
        "429 with Retry-After",
        "waits as told (the whole host pauses), retries, archives the article",
        "tests/test_spiders.py::test_retry_after_is_honoured",
    ),
    (
        "robots.txt trap: a hotspot into a disallowed path",
        "never fetched; skipped as `robots`",
        "tests/test_spiders.py::test_spider_finds_every_article_once",
    ),
    (
        "CMS link loop",
        "request budget stops it; skipped as `budget`",
        "tests/test_spiders.py::test_request_budget_stops_a_link_loop",
    ),
    (
        "Hostile object keys (`..`, absolute, control characters, over-long)",
        "refused or turned into safe keys",
        "tests/test_storage.py",
    ),
    (
        "Anonymous read of the bucket / presigned URL",
        "anonymous refused; presigned URL works",
        "tests/test_storage.py",
    ),
]


def _slug(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[:200]


class FaultReport:
    """Rows of one test: fault, what the system did, what shows nothing was lost."""

    def __init__(self, folder: Path, nodeid: str):
        self.path = folder / f"{_slug(nodeid)}.json"
        self.nodeid = nodeid
        self.rows: list[dict] = []
        self.path.unlink(missing_ok=True)  # a row from an earlier run must not outlive a failure

    def row(self, fault: str, did: str, kept: str) -> None:
        self.rows.append({"fault": fault, "did": did, "kept": kept, "test": self.nodeid})
        self.path.write_text(json.dumps(self.rows, ensure_ascii=False, indent=1), encoding="utf-8")


def _folder(config) -> Path:
    cache = getattr(config, "cache", None)
    folder = Path(cache.mkdir("epaper-faults")) if cache is not None else ROWS
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_cleaned: set[str] = set()  # modules whose stale rows this session has dropped


def _drop_stale_rows(request, folder: Path) -> None:
    """On a full run of a module, rows of its tests that no longer exist are dropped."""
    module = request.node.nodeid.split("::")[0]
    if module in _cleaned:
        return
    _cleaned.add(module)
    option = request.config.option
    if (
        getattr(option, "keyword", "")
        or getattr(option, "markexpr", "")
        or any("::" in str(arg) for arg in request.config.args)
    ):
        return  # a partial run: the tests it left out keep their rows
    current = {
        _slug(item.nodeid)
        for item in request.session.items
        if item.nodeid.startswith(module + "::")
    }
    for path in folder.glob(_slug(module + "::") + "*.json"):
        if path.stem not in current:
            path.unlink()


@pytest.fixture
def fault_report(request) -> FaultReport:
    folder = _folder(request.config)
    _drop_stale_rows(request, folder)
    return FaultReport(folder, request.node.nodeid)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _status(nodeid: str, failed: set[str]) -> str:
    return "**FAILED**" if nodeid in failed else "passed"


def table() -> str:
    failed = set(_json(CACHE / "v" / "cache" / "lastfailed", {}))
    rows = []
    order = [Path(f).stem for f in FILES]
    files = (
        sorted(
            ROWS.glob("*.json"),
            key=lambda p: (
                next((i for i, m in enumerate(order) if m in p.name), len(order)),
                p.name,
            ),
        )
        if ROWS.exists()
        else []
    )
    for path in files:
        rows += _json(path, [])
    lines = [
        "| Fault injected | What the system did | Nothing lost | Test | Result |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        gap = r["kept"].startswith("GAP")
        result = "known gap (xfail)" if gap else _status(r["test"], failed)
        lines.append(
            f"| {_cell(r['fault'])} | {_cell(r['did'])} | {_cell(r['kept'])} "
            f"| `{_cell(r['test'])}` | {result} |"
        )
    lines += [
        "",
        "Covered by other test files (reused, not repeated):",
        "",
        "| Fault | What the system does | Test |",
        "|---|---|---|",
    ]
    for fault, did, test in ELSEWHERE:
        lines.append(f"| {_cell(fault)} | {_cell(did)} | `{_cell(test)}` |")
    return "\n".join(lines) + "\n"


def _json(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


START, END = "<!-- faults:start -->", "<!-- faults:end -->"


def main() -> int:
    """Rewrite the README's fault table (between its two markers) from the last run."""
    if sys.argv[1:] == ["--files"]:
        print(" ".join(FILES))
        return 0
    if not ROWS.exists() or not any(ROWS.glob("*.json")):
        print(f"no results: run the fault suite first ({' '.join(FILES)})", file=sys.stderr)
        return 1
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{table()}{END}{tail}", encoding="utf-8")
    print(f"wrote the fault table into {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
