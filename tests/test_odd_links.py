"""Odd links (javascript:, mailto:, #, empty) never end a page (issue 20 item 2).

The replica's `odd_links` variant puts them in the image map, before and among a page's
articles, and in the page list of every family that has them (replica/families/odd.py);
the map opens each article by script (javascript:window.open('…')). Real spiders crawl it
over real HTTP: every article is archived, each odd link is skipped once with its reason or
ignored by rule, and the edition is complete.
"""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from flows.archive import archive_edition
from replica import ReplicaServer, build_site
from replica.families import odd
from spiders.families.base import resolve_link
from storage.archive import open_archive
from tests.test_spiders import VARIANTS, assert_matches_truth

DAY = date(2025, 4, 28)
# jfdaily's edition is a JSON API: no image map, no HTML list to carry odd links
HTML_VARIANTS = [(family, options) for family, options in VARIANTS if family != "jfdaily"]
REASONS = {
    odd.MAILTO: "scheme: mailto links are not fetched",
    odd.NO_URL_SCRIPT: "script: a javascript link that names no URL",
}
# the replica's robots trap, there with or without the variant
ROBOTS = "robots: forbidden by robots.txt"


def variant_id(family: str, options: dict) -> str:
    return "-".join([family, *options.values()])


def test_each_odd_link_is_followed_skipped_or_ignored_by_rule():
    def join(href):
        return urljoin("http://paper.example.cn/pc/layout/202504/28/node_01.html", href)

    for href in odd.IGNORED:
        assert resolve_link(href, join) == (None, None), href
    for href, reason in REASONS.items():
        assert resolve_link(href, join) == (None, reason)
    opened = (
        "javascript:window.open('../../../content/202504/28/content_12.html','_blank','width=800')"
    )
    assert resolve_link(opened, join) == (
        "http://paper.example.cn/pc/content/202504/28/content_12.html",
        None,
    )
    assert resolve_link('javascript:location.href="node_02.html";', join)[0].endswith(
        "/28/node_02.html"
    )


@pytest.mark.parametrize(
    "family,options", HTML_VARIANTS, ids=[variant_id(*v) for v in HTML_VARIANTS]
)
def test_the_variant_puts_odd_links_before_the_articles(family, options):
    site = build_site(family, "bcrb", [DAY], odd_links=True, **options)
    plain = build_site(family, "bcrb", [DAY], **options)
    assert site.truth(DAY) == plain.truth(DAY), "the variant changes links, not the edition"
    front = site.page_paths[DAY][1]
    text = site.resolve(front, "127.0.0.1").body.decode(
        "gbk" if family in ("founder-classic", "paperindex") else "utf-8"
    )
    first_article = min(
        text.index(s.path.rsplit("/", 1)[1]) for s in site.slots.values() if s.page.no == 1
    )
    assert text.index(odd.MAILTO) < first_article  # the page list's first entry
    assert text.count(odd.NO_URL_SCRIPT) == 2  # in the image map and the article list
    assert "javascript:window.open(" in text and 'href="#"' in text and "javascript:void(0)" in text


def crawl_odd_variant(family, options, crawl_site):
    site = build_site(family, "bcrb", [DAY], odd_links=True, **options)
    with ReplicaServer([site]) as server:
        stats, items, workdir = crawl_site(server, site, DAY)
        assert_matches_truth(site, DAY, server, items, workdir)
    return stats, items


def test_odd_links_lose_no_article_in_any_family(crawl_site, fault_report):  # noqa: F811
    for family, options in HTML_VARIANTS:
        stats, items = crawl_odd_variant(family, options, crawl_site)
        what = variant_id(family, options)
        plain = build_site(family, "bcrb", [DAY], **options).truth(DAY)
        assert len(items["article"]) == len(plain["articles"]), what
        assert len(items["page"]) == len(plain["pages"]), what
        assert stats["error"] is None and stats["finish_reason"] == "finished", what
        # each odd link once, with its reason, however many pages carry it; nothing else
        skipped = [(s["url"], s["reason"]) for s in items["skipped"] if s["reason"] != ROBOTS]
        assert sorted(skipped) == sorted(REASONS.items()), (what, items["skipped"])
        assert stats["skipped"] == {"scheme": 1, "script": 1, "robots": 1}, what
    fault_report.row(
        "Odd links in the image map, the article list and the page list (`javascript:`, "
        "`mailto:`, `#`, empty; articles opened by `javascript:window.open('…')`)",
        "script links followed to the page they open; `mailto:` skipped as `scheme`, a script "
        "without URL as `script`; `#`, empty and `javascript:void(0)` ignored by rule",
        f"every article and page of all {len(HTML_VARIANTS)} family variants crawled, "
        "the same count as without the odd links",
    )


def test_an_edition_with_odd_links_is_archived_complete(
    archive_env, prefect_api, tmp_path, monkeypatch
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-classic", "bcrb", [DAY], odd_links=True)
    truth = site.truth(DAY)
    with ReplicaServer([site]) as server:
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        result = archive_edition("bcrb", DAY.isoformat(), str(papers))
    with open_archive() as archive:
        manifest = json.loads(archive.get(f"editions/bcrb/{DAY}/manifest.json"))
    assert result["status"] == manifest["status"] == "complete"
    news = {a["url"] for a in truth["articles"] if a["kind"] == "news"}  # ads and 导读 stay out
    assert {urlsplit(a["url"]).path for a in manifest["articles"]} == news
    assert len(manifest["pages"]) == len(truth["pages"]) and all(
        p["pdf_key"] for p in manifest["pages"]
    )
    reasons = {s["url"]: s["reason"] for s in manifest["skipped"] if s["reason"] != ROBOTS}
    assert reasons == REASONS
