"""Edition checks: each invariant on its own, then through a real crawl, Prefect flow run,
SeaweedFS and the CLI: a normal edition is complete, one that lost pages is published
incomplete with its checks, the run ends Failed and the CLI exits 1 in one line."""

from __future__ import annotations

import json
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import yaml

from flows.archive import archive_edition
from flows.backfill import EditionsFailed, backfill
from papers import checks
from replica import ReplicaServer, build_site
from storage.archive import open_archive
from tests.fixtures.edition import all_versions, epaper, error_line


def page(no, url=None, kind="news"):
    return {"page_no": no, "url": url or f"http://e/node_{no}.htm", "kind": kind}


def article(no, url):
    return {"page_no": no, "url": url}


def test_page_numbers_unique_and_contiguous():
    assert checks.page_numbers([page(1), page(2), page(3)]) == []
    assert checks.page_numbers([]) == []
    assert checks.page_numbers([page(1), page(5), page(5), page(5)]) == [
        {"check": "page_numbers", "detail": "page numbers repeated: 5"},
        {"check": "page_numbers", "detail": "pages missing: 2-4"},
    ]
    assert checks.page_numbers([page(1), page(2), page(4), page(6)])[0]["detail"] == (
        "pages missing: 3, 5"
    )


def test_a_page_that_is_an_article_fails():
    pages = [page(1), page(2, "http://e/content_7.htm")]
    articles = [article(1, "http://e/content_7.htm"), article(1, "http://e/content_8.htm")]
    assert checks.pages_not_articles(pages, articles) == [
        {
            "check": "pages_not_articles",
            "detail": "1 page URLs are article URLs, first http://e/content_7.htm",
        }
    ]
    assert checks.pages_not_articles([page(1)], articles) == []


def test_every_news_page_has_articles_an_ad_page_need_not():
    pages = [page(1), page(2), page(3, kind="ad"), page(4)]
    articles = [article(1, "http://e/c1.htm"), article(4, "http://e/c4.htm")]
    assert checks.pages_have_articles(pages, articles) == [
        {"check": "pages_have_articles", "detail": "pages without articles: 2 (0 skipped links)"}
    ]
    failed_article = [{"url": "http://e/c2.htm", "reason": "http 404"}]
    assert checks.pages_have_articles(pages, articles, failed_article) == [], "explained"
    failed_page = [{"url": pages[1]["url"], "reason": "timeout"}]
    assert checks.pages_have_articles(pages, articles, failed_page) != [], "a page explains none"
    assert checks.pages_have_articles(pages[:1], articles) == []


def test_linked_articles_are_archived_or_skipped_with_a_reason():
    pages = [page(1), page(2)]
    articles = [article(1, "http://e/c1.htm"), article(1, "http://e/c2.htm")]
    skipped = [
        {"url": "http://e/c3.htm", "reason": "http 404"},
        {"url": pages[1]["url"], "reason": "timeout"},  # a page: not an article's account
    ]
    assert checks.articles_accounted(3, articles, skipped, pages) == []
    assert checks.articles_accounted(None, [], [], pages) == [], "links not counted: no verdict"
    assert checks.articles_accounted(5, articles, skipped, pages) == [
        {
            "check": "articles_accounted",
            "detail": "2 of 5 linked articles neither archived nor skipped (2 archived, 1 skipped)",
        }
    ]


def test_an_edition_under_half_its_recent_median_is_suspect():
    assert checks.article_count(9, [20, 22, 18]) == [
        {
            "check": "article_count",
            "detail": "9 articles, under 50% of the median 20 of the last 3 editions",
        }
    ]
    assert checks.article_count(10, [20, 22, 18]) == []
    assert checks.article_count(1, [20]) == [], "one earlier edition says too little"
    assert checks.article_count(0, []) == []


def test_edition_checks_gathers_every_failure_and_names_them_once():
    pages = [page(1), page(1), page(3)]
    failed = checks.edition_checks(pages, [article(1, "http://e/c1.htm")], [], None, 1, [8, 8])
    assert [c["check"] for c in failed] == [
        "page_numbers",
        "page_numbers",
        "pages_have_articles",
        "article_count",
    ]
    assert checks.names(failed) == "page_numbers, pages_have_articles, article_count"
    normal = [page(1), page(2)]
    arts = [article(1, "http://e/c1.htm"), article(2, "http://e/c2.htm")]
    assert checks.edition_checks(normal, arts, [], 2, 2, [2, 3]) == []


DAYS = [date(2025, 4, 28), date(2025, 4, 29), date(2025, 4, 30)]
LOST_PAGES = {f"page:{n}": "404" for n in (2, 3, 4, 5)}


@pytest.fixture
def site_and_papers(archive_env, prefect_api, tmp_path, monkeypatch):
    """A founder-new replica of six pages whose first listed article answers 404 (a skip
    with its reason: the edition stays complete), and a --papers file for it."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", DAYS, pages=6, faults={"article:0": "404"})
    with ReplicaServer([site]) as server:
        path = tmp_path / "papers.yaml"
        path.write_text(yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True))
        yield site, str(path)


def manifest_of(paper: str, day: date) -> dict:
    with open_archive() as archive:
        return json.loads(archive.get(f"editions/{paper}/{day}/manifest.json"))


def test_an_edition_that_lost_most_pages_is_published_incomplete_and_the_run_fails(
    site_and_papers, fault_report
):
    site, papers_file = site_and_papers
    first = epaper("archive", site.paper, "--date", DAYS[0].isoformat(), "--papers", papers_file)
    assert first.returncode == 0, first.stderr
    assert "archived ->" in first.stdout and "incomplete" not in first.stdout
    normal = manifest_of(site.paper, DAYS[0])
    assert normal["status"] == "complete" and "checks" not in normal
    assert any(s["reason"] == "http 404" for s in normal["skipped"]), "the 404 article"
    state = archive_edition(site.paper, DAYS[1].isoformat(), papers_file, return_state=True)
    assert state.is_completed() and state.result()["status"] == "complete"

    # The site's pages 2-5 now answer 404: the crawl succeeds with page 1 and the ad page.
    site.set_faults(LOST_PAGES)
    state = archive_edition(site.paper, DAYS[2].isoformat(), papers_file, return_state=True)
    assert state.is_failed(), state
    manifest = manifest_of(site.paper, DAYS[2])
    assert manifest["status"] == "incomplete"
    assert [c["check"] for c in manifest["checks"]] == ["page_numbers", "article_count"]
    assert manifest["checks"][0]["detail"] == "pages missing: 2-5"
    print(f"\nsmaller edition: {manifest['checks'][1]['detail']}")
    # Nothing fetched is lost: page 1's articles are archived, the lost pages are skipped.
    truth = site.truth(DAYS[2])
    failed_article = set(site.fault_paths("article:0"))
    front = {
        a["url"]
        for a in truth["articles"]
        if a["kind"] == "news" and a["page_no"] == 1 and a["url"] not in failed_article
    }
    assert front and front <= {urlsplit(a["url"]).path for a in manifest["articles"]}
    lost = {site.page_paths[DAYS[2]][n] for n in (2, 3, 4, 5)}
    assert lost <= {urlsplit(s["url"]).path for s in manifest["skipped"]}

    before = all_versions()
    again = epaper("archive", site.paper, "--date", DAYS[2].isoformat(), "--papers", papers_file)
    assert again.returncode == 1 and again.stdout == "", again.stdout
    line = error_line(again)
    assert f"archived -> editions/{site.paper}/{DAYS[2]}/manifest.json" in line or (
        f"unchanged -> editions/{site.paper}/{DAYS[2]}/manifest.json" in line
    ), line
    assert "checks failed: page_numbers, article_count" in line, line
    assert {k: v for k, v in all_versions().items() if not k.startswith("raw/")} == {
        k: v for k, v in before.items() if not k.startswith("raw/")
    }, "an unchanged re-run adds no article or manifest version"
    # A backfill goes on past it (to the next day, which has no edition) and records it
    # incomplete (published, not lost), which ends the backfill Failed.
    after = DAYS[2] + timedelta(days=1)
    with pytest.raises(EditionsFailed) as failed:
        backfill(site.paper, DAYS[2].isoformat(), after.isoformat(), papers_file)
    assert [r["status"] for r in failed.value.results] == ["incomplete", "missing"]
    assert "checks failed: page_numbers, article_count" in failed.value.results[0]["reason"]
    fault_report.row(
        "Edition far smaller than its last ones: most pages answer 404, the crawl succeeds",
        "published with status `incomplete` and its failed checks (pages missing, article count"
        " under half the recent median); `epaper archive` exits 1 with one line naming them;"
        " the Prefect flow run ends Failed; a backfill goes on, records it incomplete, ends Failed",
        "every article of the pages fetched archived; the lost pages listed as skipped",
    )
