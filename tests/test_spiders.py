"""Family spiders against replica sites over real HTTP, checked against their ground truth."""

from __future__ import annotations

import html
from datetime import date
from urllib.parse import urlsplit

import pytest

from replica import ReplicaServer, build_site
from spiders.crawl import CrawlError, run_crawl

DAY = date(2025, 4, 28)
UA = "Mozilla/5.0 (X11; Linux x86_64) epaper-archive-test"

# (family, options): every skin and URL variant a family spider must handle
VARIANTS = [
    ("founder-classic", {}),
    ("paperindex", {}),
    ("xmwb", {}),
    ("whb", {}),
    ("jfdaily", {}),
    ("founder-new", {"skin": "swiper"}),
    ("founder-new", {"skin": "chunkicon", "node": "A01", "content_dir": "con"}),
    ("founder-new", {"skin": "layoutlist", "node": "1"}),
]


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def assert_matches_truth(site, day, server, items, workdir):
    truth = site.truth(day)
    # pages: numbers, names, kinds and their PDFs
    pages = {path(p["url"]): p for p in items["page"]}
    assert sorted(pages) == sorted(p["url"] for p in truth["pages"])
    for want in truth["pages"]:
        got = pages[want["url"]]
        assert (got["page_no"], got["page_name"], got["kind"]) == (
            want["page_no"],
            want["page_name"],
            want["kind"],
        )
        assert path(got["pdf_url"]) == want["pdf_url"]
        pdf = (workdir / got["pdf_path"]).read_bytes()
        assert pdf.startswith(b"%PDF") and pdf == site.resolve(want["pdf_url"], "").body
    # articles: every one once, hidden ones through their hotspot
    found = [path(a["url"]) for a in items["article"]]
    assert len(found) == len(set(found)), "an article was yielded twice"
    assert sorted(found) == sorted(a["url"] for a in truth["articles"])
    by_url = {path(a["url"]): a for a in items["article"]}
    for want in truth["articles"]:
        got = by_url[want["url"]]
        assert (got["page_no"], got["page_name"], got["kind"]) == (
            want["page_no"],
            want["page_name"],
            want["kind"],
        )
        assert got["via"] == ("hotspot" if want["hidden"] else "list")
        assert got["family"] == site.family and got["article_id"] in got["url"]
        # decoded right: the truth's text is in the page, no replacement characters
        text = html.unescape(got["html"])
        assert want["title"] in text and want["paragraphs"][-1] in text
        assert "\ufffd" not in text
    assert not items["missing"]


@pytest.mark.parametrize(
    "family,options", VARIANTS, ids=lambda v: v if isinstance(v, str) else "-".join(v.values())
)
def test_spider_finds_every_article_once(family, options, crawl_site, monkeypatch):
    monkeypatch.setenv("EPAPER_USER_AGENT", UA)
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0.01")  # polite as in production, if quicker
    site = build_site(family, "bcrb", [DAY], **options)
    with ReplicaServer([site]) as server:
        stats, items, workdir = crawl_site(server, site, DAY)
        assert_matches_truth(site, DAY, server, items, workdir)
        # polite: robots.txt read and obeyed, one request at a time, our User-Agent
        assert "/robots.txt" in server.paths()
        assert not [p for p in server.paths() if "/private/" in p]
        assert stats["skipped"].get("robots") == (1 if site.robots_trap else None)
        assert server.max_in_flight == 1
        assert {e["user_agent"] for e in server.log} == {UA}
    assert stats["requests"] == server.requests and stats["bytes"] > 0
    assert stats["started"] < stats["finished"]
    assert (workdir / "crawl.warc.gz").exists()


def test_encoding_argument_overrides_detection(crawl_site):
    site = build_site("paperindex", "dzrb", [DAY])  # GBK pages that declare no charset
    with ReplicaServer([site]) as server:
        _, items, workdir = crawl_site(server, site, DAY, encoding="gb18030")
        assert_matches_truth(site, DAY, server, items, workdir)


# Every family meets a date without edition; the walk that handles it is shared, so
# the two answers (404, 301 to the root) are spread over the families.
MISSING = [
    ("founder-new", 404),
    ("founder-new", 301),
    ("founder-classic", 301),
    ("paperindex", 404),
    ("xmwb", 301),
    ("whb", 404),
    ("jfdaily", 301),
]


@pytest.mark.parametrize("family,status", MISSING)
def test_missing_dates_are_not_errors(family, status, crawl_site):
    site = build_site(family, "bcrb", [DAY])
    (day,) = [d for d, s in site.missing.items() if s == status]
    with ReplicaServer([site]) as server:
        _, items, _ = crawl_site(server, site, day)
    assert not items["page"] and not items["article"]
    (missing,) = items["missing"]
    assert missing["date"] == day.isoformat() and missing["paper"] == "bcrb"
    assert missing["reason"] == {404: "HTTP 404", 301: "301 to /"}[status]


def test_retry_after_is_honoured(crawl_site):
    site = build_site("founder-new", "bcrb", [DAY], busy=1)
    (busy,) = site.busy
    with ReplicaServer([site]) as server:
        stats, items, workdir = crawl_site(server, site, DAY)
        hits = [e for e in server.log if e["path"] == busy]
        assert [e["status"] for e in hits] == [429, 200]
        assert hits[1]["time"] - hits[0]["time"] >= 0.9  # Retry-After: 1
        assert_matches_truth(site, DAY, server, items, workdir)
    assert stats["retries"] == 1


def test_robots_crawl_delay_is_honoured(crawl_site):
    site = build_site("founder-new", "bcrb", [DAY], pages=2)
    with ReplicaServer([site], crawl_delay=0.3) as server:
        crawl_site(server, site, DAY)
        times = [e["time"] for e in server.log if e["path"] != "/robots.txt"]
    assert len(times) > 5
    assert min(b - a for a, b in zip(times, times[1:])) >= 0.28


@pytest.mark.parametrize("delay", ["0", "0.05"])
def test_autothrottle_only_with_a_download_delay(delay, crawl_site, monkeypatch):
    # A delay of 0 is politeness off: AutoThrottle would wait a response time per request.
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", delay)
    site = build_site("founder-new", "bcrb", [DAY], pages=2)
    with ReplicaServer([site]) as server:
        _, items, workdir = crawl_site(server, site, DAY)
    log = (workdir / "crawl.log").read_text(encoding="utf-8")
    enabled = log.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert ("scrapy.extensions.throttle.AutoThrottle" in enabled) == (delay != "0")
    assert items["article"]


def test_request_budget_stops_a_link_loop(crawl_site):
    site = build_site("founder-new", "bcrb", [DAY], link_loop=True)
    with ReplicaServer([site]) as server:
        stats, items, _ = crawl_site(server, site, DAY, EPAPER_REQUEST_BUDGET=30)
        assert server.requests <= 30
    assert stats["skipped"]["budget"] >= 1
    assert stats["finish_reason"] == "finished"
    assert any(s["reason"].startswith("budget") for s in items["skipped"])


def test_unreachable_site_is_a_crawl_error(tmp_path):
    site = build_site("founder-new", "bcrb", [DAY])
    with ReplicaServer([site]) as server:
        base = server.base_url  # the port is free again once the server stops
    with pytest.raises(
        CrawlError, match=r"^site unreachable: http://127\.0\.0\.1:\d+/.*: connection refused$"
    ):
        run_crawl(
            "bcrb",
            DAY.isoformat(),
            "founder-new",
            base + site.url_for(DAY),
            str(tmp_path),
            settings={"RETRY_TIMES": 0},
        )


def test_wrong_family_is_a_crawl_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("whb", "whb", [DAY])
    with (
        ReplicaServer([site]) as server,
        pytest.raises(CrawlError, match="not a founder-classic edition page"),
    ):
        run_crawl(
            "whb",
            DAY.isoformat(),
            "founder-classic",
            server.base_url + site.url_for(DAY),
            str(tmp_path),
        )


def test_unknown_family_is_a_crawl_error(tmp_path):
    with pytest.raises(CrawlError, match="unknown family: nope"):
        run_crawl("bcrb", DAY.isoformat(), "nope", "http://127.0.0.1:9/", str(tmp_path))


def test_charset_repair_leaves_page_pdfs_alone():
    # Scrapy sniffs reportlab's PDFs as text; guessing their charset cost up to 0.1 s each.
    from types import SimpleNamespace

    from scrapy.http import TextResponse

    from spiders.middlewares import CharsetMiddleware

    pdf = TextResponse(
        "http://x/1.pdf",
        body=b"%PDF-1.3\n%\x93\x8c\x8b\x9e",
        headers={"Content-Type": "application/pdf"},
    )
    for encoding in (None, "gbk"):
        mw = CharsetMiddleware(SimpleNamespace(spider=SimpleNamespace(encoding=encoding)))
        assert mw.process_response(None, pdf) is pdf
