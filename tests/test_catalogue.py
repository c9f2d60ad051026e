"""The built-in catalogue (papers/papers.yaml): at least 60 real papers, each with the public
file its markup was read from, templates that render in every era, schedules a daily or an
evening paper keeps, prefect.yaml in step, and sites no family fits refused at archive."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest
import yaml
from croniter import croniter

from epaper.deployments import PREFECT_YAML
from papers.catalogue import (
    BUILTIN_PAPERS,
    NO_FAMILY,
    ConfigError,
    Evidence,
    load_papers,
    read_papers,
)
from papers.ids import PAPER_ID
from storage.archive import open_archive
from tests.fixtures.edition import epaper, error_line

PAPERS = load_papers()
UNFIT = [paper for paper in PAPERS.values() if not paper.eras[-1].fits]
CATALOGUE_MD = BUILTIN_PAPERS.parents[1] / "docs" / "catalogue.md"
TABLE_START, TABLE_END = "<!-- table: generated -->", "<!-- /table -->"


def catalogue_table(papers) -> str:
    """docs/catalogue.md's table: `python -m tests.test_catalogue` writes it."""
    rows = [
        "| id | paper | family (era) | evidence (repo: path) | confirmed |",
        "|---|---|---|---|---|",
    ]
    for paper in papers.values():
        eras = "<br>".join(
            era.family
            + (f" ({era.start or '…'} – {era.end or '…'})" if len(paper.eras) > 1 else "")
            for era in paper.eras
        )
        evidence = "<br>".join(f"{e.repo}: `{e.path}`" for e in paper.evidence)
        mark = "yes" if paper.confirmed else "address only"
        rows.append(f"| {paper.id} | {paper.name} | {eras} | {evidence} | {mark} |")
    return "\n".join(rows)


def era_dates(era) -> list[dt.date]:
    """A date inside the era at each end it has, else one in the middle of the years."""
    dates = [day for day in (era.start, era.end) if day is not None]
    return dates or [dt.date(2025, 4, 30)]


def test_at_least_60_papers_with_unique_ids():
    raw = yaml.safe_load(BUILTIN_PAPERS.read_text(encoding="utf-8"))
    ids = [entry["id"] for entry in raw]
    assert len(ids) == len(set(ids)) == len(PAPERS) >= 60
    assert all(PAPER_ID.match(pid) for pid in ids)


def test_every_entry_names_its_evidence():
    for paper in PAPERS.values():
        assert paper.evidence, f"{paper.id}: no evidence"
        for evidence in paper.evidence:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", evidence.repo), (paper.id, evidence)
            assert evidence.path.strip() and not evidence.path.startswith("/"), paper.id


def test_every_template_renders_in_each_era():
    for paper in PAPERS.values():
        for era in paper.eras:
            for day in era_dates(era):
                url = paper.edition_url(day)
                assert paper.layout(day) is era
                assert url.startswith(("http://", "https://")) and "{" not in url, url
                # the date reaches the address in one of the forms the families use
                forms = {day.strftime(f) for f in ("%Y-%m/%d", "%Y%m/%d", "%Y%m%d", "%Y-%m-%d")}
                assert any(form in url for form in forms), (paper.id, url)


def test_schedules_are_early_morning_or_afternoon_for_evening_papers():
    for paper in PAPERS.values():
        assert paper.timezone == "Asia/Shanghai", paper.id
        minute, hour, *days = paper.schedule.split()
        assert croniter.is_valid(paper.schedule) and days == ["*", "*", "*"], paper.id
        evening = "晚报" in paper.name
        allowed = range(14, 17) if evening else range(4, 8)
        assert int(hour) in allowed, (paper.id, paper.schedule)


def test_moved_papers_have_an_era_per_site():
    # 人民日报's nbs.* pages already had founder-new markup; 大连日报 moved to founder-new
    rmrb, dlrb = PAPERS["rmrb"], PAPERS["dlrb"]
    assert [era.family for era in rmrb.eras] == ["founder-new", "founder-new"]
    assert "nbs.D110000renmrb_01.htm" in rmrb.edition_url(dt.date(2024, 11, 30))
    assert "/pc/layout/202412/01/" in rmrb.edition_url(dt.date(2024, 12, 1))
    assert dlrb.era(dt.date(2025, 4, 30)).family == "founder-new"
    for pid in ("henanrb", "gzrb"):
        hosts = {re.sub(r"/.*", "", era.edition_url.split("://")[1]) for era in PAPERS[pid].eras}
        assert len(hosts) == 2, pid


def test_prefect_yaml_is_in_step():
    run = subprocess.run(
        [sys.executable, "-m", "epaper.cli", "deployments", "--check", "-o", str(PREFECT_YAML)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PREFECT_YAML.parent,
    )
    assert run.returncode == 0, run.stderr
    assert "matches" in run.stdout


def test_family_none_is_listed_but_refused_by_era(tmp_path):
    path = tmp_path / "papers.yaml"
    path.write_text(
        "- id: odd\n"
        "  name: 某某日报\n"
        "  family: none\n"
        "  note: pages in div.odd_list\n"
        '  edition_url: "http://odd.example/{date:%Y%m%d}/index.html"\n'
        "  evidence: {repo: someone/crawlers, path: odd.py}\n",
        encoding="utf-8",
    )
    paper = read_papers(path)["odd"]
    day = dt.date(2025, 4, 30)
    assert paper.layout(day).family == NO_FAMILY and not paper.layout(day).fits
    assert paper.edition_url(day) == "http://odd.example/20250430/index.html"
    assert paper.evidence == (Evidence("someone/crawlers", "odd.py"),)
    with pytest.raises(ConfigError, match=r"paper 'odd' \(某某日报\).*fits no known family"):
        paper.era(day)


@pytest.mark.parametrize(
    ("evidence", "key"),
    [
        ("evidence: {repo: not-a-repo, path: x.py}", "evidence.repo"),
        ("evidence: [{repo: a/b}]", "evidence[0]"),
        ('evidence: {repo: a/b, path: " "}', "evidence.path"),
    ],
)
def test_bad_evidence_names_the_paper_and_key(tmp_path, evidence, key):
    path = tmp_path / "papers.yaml"
    path.write_text(
        "- id: odd\n  name: 某某日报\n  family: founder-new\n"
        '  edition_url: "http://odd.example/pc/layout/{date:%Y%m/%d}/node_01.html"\n'
        f"  {evidence}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=f"paper 'odd': key '{re.escape(key)}'"):
        read_papers(path)


def test_a_paper_no_family_fits_is_refused_at_archive_before_fetching(archive_env, prefect_api):
    assert UNFIT, "the catalogue marks 陕西日报 and 贵州都市报 as fitting no family"
    paper = UNFIT[0]
    run = epaper("archive", paper.id, "--date", "2025-04-30")
    assert run.returncode == 1, run.stderr
    line = error_line(run)
    assert f"paper {paper.id!r} ({paper.name})" in line and "fits no known family" in line
    with open_archive() as archive:
        assert list(archive.list("")) == []  # refused before anything was fetched or written


def test_docs_catalogue_md_is_in_step():
    text = CATALOGUE_MD.read_text(encoding="utf-8")
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == catalogue_table(PAPERS), "run `python -m tests.test_catalogue`"


if __name__ == "__main__":
    head, rest = CATALOGUE_MD.read_text(encoding="utf-8").split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    CATALOGUE_MD.write_text(
        f"{head}{TABLE_START}\n{catalogue_table(PAPERS)}\n{TABLE_END}{tail}", encoding="utf-8"
    )
