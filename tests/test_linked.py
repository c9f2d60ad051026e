"""Issue 15's leftovers: the crawl counts the article links of its pages (stats.json
`articles_linked`), so an edition that loses articles between linking and archiving fails
its articles_accounted check; founder-new's pc/column pages (常德日报)."""

from __future__ import annotations

import json
import shutil
from datetime import date

from flows import steps
from papers.workdir import Workdir
from replica import ReplicaServer, build_site
from spiders.crawl import run_crawl
from storage.archive import open_archive
from storage.catalog import Catalog
from tests.test_variants import items_of, shortfalls

DAY = date(2025, 4, 28)


def crawl(site, server, workdir) -> dict:
    url = server.base_url + site.url_for(DAY)
    return run_crawl(site.paper, DAY.isoformat(), site.family, url, str(workdir))


def publish(workdir, paper: str, stats: dict) -> dict:
    steps.clean_edition(workdir)
    with Catalog() as catalog:
        steps.dedupe_edition(workdir, catalog)
    with open_archive() as archive:
        return steps.publish_edition(workdir, archive, paper, DAY.isoformat(), stats)


def test_articles_lost_between_linking_and_archiving_fail_the_check(
    archive_env, tmp_path, monkeypatch
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "lost", [DAY])
    with ReplicaServer([site]) as server:
        stats = crawl(site, server, tmp_path / "crawl")
    truth = site.truth(DAY)
    # every article once (an article linked from its list and the map counts once), and the
    # front page's hotspot into the path robots.txt forbids
    assert stats["articles_linked"] == len(truth["articles"]) + 1
    written = json.loads((tmp_path / "crawl" / Workdir.STATS).read_text(encoding="utf-8"))
    assert written["articles_linked"] == stats["articles_linked"]

    lossy = tmp_path / "lossy"
    shutil.copytree(tmp_path / "crawl", lossy)
    lines = (lossy / Workdir.ITEMS).read_text(encoding="utf-8").splitlines()
    front = [
        i for i, line in enumerate(lines) if '"type": "article"' in line and '"page_no": 1,' in line
    ]
    lost = {front[0], front[-1]}  # two of the front page's articles vanish unrecorded
    kept = [line for i, line in enumerate(lines) if i not in lost]
    (lossy / Workdir.ITEMS).write_text("\n".join(kept) + "\n", encoding="utf-8")

    result = publish(lossy, site.paper, stats)
    assert result["status"] == "incomplete"
    assert result["checks"] == [
        {
            "check": "articles_accounted",
            "detail": f"2 of {stats['articles_linked']} linked articles neither archived nor "
            f"skipped ({len(truth['articles']) - 2} archived, 1 skipped)",
        }
    ]
    # the next crawl that has them all sets the edition complete again
    assert publish(tmp_path / "crawl", site.paper, stats)["status"] == "complete"


def test_founder_new_pages_under_pc_column_are_crawled_completely(tmp_path, monkeypatch):
    """常德日报 (bm_lyh 报纸/paper/changde_paper.py): pc/column/YYYYMM/DD/node_A01.html pages in
    a div.nav-list, li.resultList articles under pc/content."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site(
        "founder-new", "cdrb", [DAY], variant=0, page_dir="column", lists="navlist", node="A01"
    )
    assert "/pc/column/" in site.url_for(DAY)
    with ReplicaServer([site]) as server:
        stats = crawl(site, server, tmp_path / "w")
        items = items_of(tmp_path / "w")
        assert shortfalls(site, server.base_url, items) == []
    assert len(items["page"]) == site.pages and not stats["error"]
    assert all("/pc/column/" in p["url"] for p in items["page"])


def test_pages_the_list_does_not_label_take_the_label_their_articles_print(tmp_path, monkeypatch):
    """A page list of thumbnails (no 第N版 label, none on the page either): each page is
    numbered and named by the 版 label its articles print, the first in link order, so two
    crawls agree; an article that fails leaves its page numbered by the others."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "thumbs", [DAY], thumb_pages=True)
    failing = site.fault_paths("article:0")[0]
    pages = []
    with ReplicaServer([site]) as server:
        for run in ("first", "again"):
            crawl(site, server, tmp_path / run)
            items = items_of(tmp_path / run)
            assert shortfalls(site, server.base_url, items) == [], run
            pages.append(sorted(json.dumps(p, sort_keys=True) for p in items["page"]))
        assert pages[0] == pages[1]
        site.set_faults({"article:0": 404})
        crawl(site, server, tmp_path / "failing")
        items = items_of(tmp_path / "failing")
    want = {p["url"]: (p["page_no"], p["page_name"], p["kind"]) for p in site.truth(DAY)["pages"]}
    got = {
        p["url"].removeprefix(server.base_url): (p["page_no"], p["page_name"], p["kind"])
        for p in items["page"]
    }
    assert got == want
    skipped = {s["url"].removeprefix(server.base_url): s["reason"] for s in items["skipped"]}
    assert skipped[failing] == "http 404"
