"""`epaper wacz`: WACZ packages of archived editions, checked with py-wacz's own validator,
their page lists against the archived articles and their index against the WARCs inside."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

from dataset.wacz import month_range
from flows.archive import archive_edition
from storage import keys
from storage.archive import open_archive
from tests.fixtures.edition import DAYS, all_versions, epaper, error_line

WACZ_TOOL = Path(sys.executable).with_name("wacz")
HAN = re.compile(r"[\u4e00-\u9fff]")


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(WACZ_TOOL), "validate", "-f", str(path)], capture_output=True, text=True, timeout=300
    )


def pages_of(path: Path) -> tuple[dict, list[dict]]:
    with zipfile.ZipFile(path) as z:
        header, *pages = map(json.loads, z.read("pages/pages.jsonl").decode().splitlines())
    return header, pages


def index_of(path: Path) -> list[dict]:
    """The WACZ's CDXJ (a run of gzip members) as JSON blocks with their timestamps."""
    with zipfile.ZipFile(path) as z:
        text = gzip.decompress(z.read("indexes/index.cdx.gz")).decode()
    entries = []
    for line in text.splitlines():
        _surt, timestamp, block = line.split(" ", 2)
        entries.append({**json.loads(block), "timestamp": timestamp})
    return entries


def archived_articles(paper: str, dates: list[str]) -> list[dict]:
    """The articles of those editions as the bucket holds them, with their keys."""
    with open_archive() as archive:
        found = []
        for day in dates:
            manifest = json.loads(archive.get(keys.edition_manifest(paper, day)))
            for entry in manifest["articles"]:
                body = archive.get(entry["key"], version_id=entry["version_id"])
                found.append({**json.loads(body), "key": entry["key"]})
        return found


def edition_dates(paper: str) -> list[str]:
    with open_archive() as archive:
        return sorted(k.split("/")[2] for k in archive.list(f"editions/{paper}/"))


def check_package(path: Path, articles: list[dict]) -> list[dict]:
    """Valid by `wacz validate`; its pages the articles (Chinese titles and text); every
    page's URL captured at the page's time (a 200 response) in a WARC inside. Its pages."""
    run = validate(path)
    assert run.returncode == 0 and "is valid" in run.stdout, run.stdout + run.stderr

    header, pages = pages_of(path)
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    by_key = {page["id"]: page for page in pages}
    assert sorted(by_key) == sorted(a["key"] for a in articles)
    for article in articles:
        page = by_key[article["key"]]
        assert (page["url"], page["title"], page["text"]) == (
            article["url"],
            article["title"],
            article["text"],
        )
        assert HAN.search(page["title"]) and HAN.search(page["text"]), page

    with zipfile.ZipFile(path) as z:
        inside = {name.removeprefix("archive/") for name in z.namelist()}
    full = {
        (e["url"], e["timestamp"])
        for e in index_of(path)
        if e.get("status") == "200" and e["mime"] != "warc/revisit" and e["filename"] in inside
    }
    for page in pages:
        assert (page["url"], iso_date_to_timestamp(page["ts"])) in full, page
    return pages


def captured_bodies(path: Path) -> dict[str, bytes]:
    """URL → body of every 200 response in the WACZ's WARCs."""
    bodies = {}
    with zipfile.ZipFile(path) as z:
        warcs = [z.read(name) for name in z.namelist() if name.startswith("archive/")]
    for warc in warcs:
        for record in ArchiveIterator(io.BytesIO(warc)):
            if record.rec_type != "response" or record.http_headers.get_statuscode() != "200":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            bodies[url] = record.content_stream().read()
    return bodies


def read_demo(demo_archive, monkeypatch) -> None:
    for name, value in demo_archive.items():
        monkeypatch.setenv(name, value)


def test_a_range_of_the_demo_with_gaps_packages_what_exists(demo_archive, monkeypatch, tmp_path):
    read_demo(demo_archive, monkeypatch)
    paper = "demo-bcrb"
    dates = edition_dates(paper)
    assert len(dates) > 1
    articles = archived_articles(paper, dates)
    before = all_versions()
    gap = [(date.fromisoformat(dates[-1]) + timedelta(n)).isoformat() for n in (1, 2)]
    out = tmp_path / "range.wacz"

    run = epaper("wacz", paper, "--date", dates[0], "--to", gap[-1], "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert f"{len(articles)} articles of {len(dates)} editions" in run.stdout
    assert f"no archived edition of {paper} on {gap[0]}..{gap[1]}" in run.stderr

    check_package(out, articles)
    assert all_versions() == before, "packaging wrote nothing to the bucket"


def test_the_page_list_of_a_gbk_paper_is_its_articles_in_chinese(
    demo_archive, monkeypatch, tmp_path
):
    read_demo(demo_archive, monkeypatch)
    paper = "demo-pdtimes"  # founder-classic: GBK bytes, whatever the header says
    day = edition_dates(paper)[0]
    out = tmp_path / "gbk.wacz"
    run = epaper("wacz", paper, "--date", day, "-o", str(out))
    assert run.returncode == 0, run.stderr

    pages = check_package(out, archived_articles(paper, [day]))
    bodies = captured_bodies(out)
    for page in pages:
        body = bodies[page["url"]]
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        assert page["title"] in body.decode("gbk"), "the GBK page's own title is the page's"


def test_an_edition_never_archived_is_one_line_and_no_file(demo_archive, monkeypatch, tmp_path):
    read_demo(demo_archive, monkeypatch)
    out = tmp_path / "none.wacz"
    dates = edition_dates("demo-bcrb")
    never = (date.fromisoformat(dates[0]) - timedelta(days=30)).isoformat()
    run = epaper("wacz", "demo-bcrb", "--date", never, "-o", str(out))
    assert run.returncode == 1
    line = error_line(run)
    assert (
        f"no archived edition of demo-bcrb on {never}" in line
        and demo_archive["EPAPER_S3_BUCKET"] in line
    )
    assert not out.exists()
    for args, named in {
        ("--month", "2025-13"): "2025-13",
        ("--date", dates[-1], "--to", dates[0]): dates[0],
        ("--month", "2025-04", "--to", dates[0]): "--to",
    }.items():
        run = epaper("wacz", "demo-bcrb", *args, "-o", str(out))
        assert run.returncode != 0 and named in error_line(run), args
    assert not out.exists()


def test_to_bucket_after_a_conditional_recrawl(sites, papers, tmp_path):
    """An edition archived, one article edited, archived again (a conditional crawl: the
    other articles are revisit records), and the next day's: the month's WACZ holds every
    WARC of both days, goes to the bucket, and the edited article's page is its new text at
    its new capture."""
    _, papers_file = papers
    site = sites[0]
    first = archive_edition(site.paper, DAYS[0].isoformat(), papers_file)
    target = next(
        a for a in site.truth(DAYS[0])["articles"] if a["kind"] == "news" and not a["hidden"]
    )
    site.edit_article(DAYS[0], target["url"], [*target["paragraphs"], "本报将继续关注此事进展。"])
    edited = next(a for a in first["articles"] if a["url"].endswith(target["url"]))
    for day in DAYS:
        assert archive_edition(site.paper, day.isoformat(), papers_file)["status"] == "complete"
    month = f"{DAYS[0]:%Y-%m}"
    out = tmp_path / "month.wacz"

    run = epaper("wacz", site.paper, "--month", month, "-o", str(out), "--to-bucket")
    assert run.returncode == 0, run.stderr
    key = keys.edition_wacz(site.paper, *month_range(month))
    assert key == f"wacz/{site.paper}/{month}.wacz" and key in run.stdout
    dates = [d.isoformat() for d in DAYS]
    pages = check_package(out, archived_articles(site.paper, dates))
    with open_archive() as archive:
        assert archive.get(key) == out.read_bytes()
        warcs = [k for d in dates for k in archive.list(f"raw/{site.paper}/{d}/") if ".warc" in k]
    assert len(warcs) == 3, warcs
    with zipfile.ZipFile(out) as z:
        assert len([n for n in z.namelist() if n.startswith("archive/")]) == len(warcs)
    assert [e for e in index_of(out) if e["mime"] == "warc/revisit"], "a conditional crawl"

    day_one = {p["id"]: p for p in pages if p["id"].split("/")[2] == dates[0]}
    new = day_one.pop(edited["key"])
    assert new["text"].endswith("本报将继续关注此事进展。")
    assert all(new["ts"] > page["ts"] for page in day_one.values()), "at its second capture"

    # A WARC damaged in the bucket (cut short): one line naming it, and no package.
    damaged = next(k for k in warcs if f"/{dates[1]}/" in k)
    with open_archive() as archive:
        whole = archive.get(damaged)
        archive.put(damaged, whole[: len(whole) // 2], "application/warc")
    cut = tmp_path / "cut.wacz"
    run = epaper("wacz", site.paper, "--date", dates[1], "-o", str(cut))
    assert run.returncode == 1 and damaged in error_line(run), run.stderr
    assert not cut.exists()


def test_keys_name_one_edition_a_month_or_a_range():
    assert keys.edition_wacz("whb", "2025-04-28") == "wacz/whb/2025-04-28.wacz"
    assert keys.edition_wacz("whb", "2024-02-01", "2024-02-29") == "wacz/whb/2024-02.wacz"
    assert keys.edition_wacz("whb", "2024-02-01", "2024-02-28") == (
        "wacz/whb/2024-02-01_2024-02-28.wacz"
    )
    assert keys.edition_wacz("whb", "2024-12-30", "2025-01-02") == (
        "wacz/whb/2024-12-30_2025-01-02.wacz"
    )
