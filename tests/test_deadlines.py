"""A slow site cannot hold an edition for long: a timed-out request is retried once, and an
edition has a time budget (EPAPER_EDITION_BUDGET) past which what is left is skipped as
`deadline` and the crawl is marked incomplete, with what it fetched until then kept.

The slow article is a replica page sent one byte every 2 s, headers at once and a true
Content-Length, as a hostile or overloaded host does: never idle, so only a timeout over
the whole download, or the edition's deadline, ends it.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from replica import ReplicaServer, build_site
from spiders.crawl import CrawlError, run_crawl
from tests.fixtures.replica import rel

DAY = date(2025, 4, 28)


def trickle(gap: float = 2.0):
    """A replica answer (ReplicaServer's `answers`): the page one byte every `gap` seconds."""

    def answer(server, handler, res) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", res.content_type)
        handler.send_header("Content-Length", str(len(res.body)))
        handler.end_headers()
        for i in range(len(res.body)):
            handler.wfile.write(res.body[i : i + 1])
            handler.wfile.flush()
            if server.wait(gap):
                return

    return answer


def crawl(server, site, workdir, **settings):
    stats = run_crawl(
        site.paper,
        DAY.isoformat(),
        site.family,
        server.base_url + site.url_for(DAY),
        str(workdir),
        settings=settings,
    )
    items: dict[str, list[dict]] = {"page": [], "article": [], "missing": [], "skipped": []}
    for line in (workdir / "items.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        items[item["type"]].append(item)
    return stats, items


@pytest.fixture(autouse=True)
def no_delay(monkeypatch):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")


def test_a_timed_out_article_is_retried_once_then_skipped(tmp_path, monkeypatch, fault_report):
    monkeypatch.setenv("EPAPER_DOWNLOAD_TIMEOUT", "2")  # the article would take minutes
    site = build_site("founder-new", "bcrb", [DAY], pages=3)
    (slow,) = site.fault_paths("article:0")
    with ReplicaServer([site], answers={slow: trickle()}) as server:
        stats, items = crawl(server, site, tmp_path / "crawl")
        tries = server.answered[slow]
    assert stats["error"] is None and stats["finish_reason"] == "finished"
    assert tries == 2, "a timed-out request is retried once, not RETRY_TIMES (4) times"
    skipped = {rel(s["url"]): s["reason"] for s in items["skipped"]}
    assert skipped.pop(slow) == "timeout"
    assert set(skipped.values()) == {"robots: forbidden by robots.txt"}  # the replica's robots trap
    truth = {a["url"] for a in site.truth(DAY)["articles"]}
    assert {rel(a["url"]) for a in items["article"]} == truth - {slow}
    assert stats["incomplete"] is None, "a timeout is a skipped article, not a cut edition"
    fault_report.row(
        "Slow article: a byte every 2 s (whole-download timeout below the edition budget)",
        "cut at DOWNLOAD_TIMEOUT (EPAPER_DOWNLOAD_TIMEOUT, 30 s), retried once (not 4 times), "
        "skipped as `timeout`",
        "every other article of the edition crawled",
    )


def test_an_edition_over_its_time_budget_ends_there_and_keeps_what_it_got(
    tmp_path, monkeypatch, fault_report
):
    monkeypatch.setenv("EPAPER_EDITION_BUDGET", "8")  # DOWNLOAD_TIMEOUT stays 30 s
    site = build_site("founder-new", "bcrb", [DAY], pages=3)
    (slow,) = site.fault_paths("article:0")
    with ReplicaServer([site], answers={slow: trickle()}) as server:
        # a second connection to the host, so that the rest of the edition is not queued
        # behind the slow article and is fetched within the budget
        stats, items = crawl(server, site, tmp_path / "crawl", CONCURRENT_REQUESTS_PER_DOMAIN=2)
        tries = server.answered[slow]
    assert stats["error"] is None and stats["finish_reason"] == "finished"
    skipped = {rel(s["url"]): s["reason"] for s in items["skipped"]}
    # cut at the deadline, 22 s before its own timeout would have, and not retried after it
    assert "deadline: the edition's time budget of 8 s is spent" in skipped.pop(slow)
    assert tries == 1
    assert set(skipped.values()) == {"robots: forbidden by robots.txt"}
    truth = {a["url"] for a in site.truth(DAY)["articles"]}
    assert {rel(a["url"]) for a in items["article"]} == truth - {slow}
    assert len(items["page"]) == 3 and all(p["pdf_path"] for p in items["page"])
    assert (
        stats["incomplete"]
        == "deadline: 1 requests not done within the edition's time budget of 8 s"
    )
    fault_report.row(
        "Slow article: a byte every 2 s",
        "the edition ends at its time budget "
        "(EPAPER_EDITION_BUDGET, 900 s; 8 s here): the article skipped as `deadline`, "
        "the crawl marked incomplete",
        "every other article and page of the edition crawled",
    )


def test_past_the_deadline_every_request_left_is_skipped_not_dropped(
    tmp_path, monkeypatch, fault_report
):
    # A polite crawl (1 s between requests) of 6 pages needs far more than 3 s: past the
    # deadline the requests queued for the host and those not sent yet are all skipped.
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "1")
    site = build_site("founder-new", "bcrb", [DAY], pages=6)
    with ReplicaServer([site]) as server:
        stats, items = crawl(server, site, tmp_path / "crawl", EPAPER_EDITION_BUDGET=3)
    assert stats["error"] is None and stats["finish_reason"] == "finished"
    skipped = {rel(s["url"]): s["reason"] for s in items["skipped"]}
    cut = {url for url, reason in skipped.items() if "deadline:" in reason}
    assert cut
    truth = site.truth(DAY)
    pages = {rel(p["url"]) for p in items["page"]}
    pdfs = {rel(p["pdf_url"]) for p in items["page"]}
    # nothing linked is lost unsaid: each page, its PDF and each article of a crawled page
    # was either fetched or skipped
    assert {p["url"] for p in truth["pages"]} <= pages | cut
    assert pdfs <= {rel(p["pdf_url"]) for p in items["page"] if p["pdf_path"]} | cut
    linked = {
        a["url"]
        for a in truth["articles"]
        if any(p["page_no"] == a["page_no"] and p["url"] in pages for p in truth["pages"])
    }
    assert linked <= {rel(a["url"]) for a in items["article"]} | cut
    assert stats["incomplete"].startswith(f"deadline: {len(cut)} requests not done")
    log = (tmp_path / "crawl" / "crawl.log").read_text(encoding="utf-8")
    queued = [
        int(line.split(": ")[-1].split()[0])
        for line in log.splitlines()
        if "queued requests cut" in line
    ]
    assert queued and queued[0] >= 1, (
        "requests waiting out the delay in the host's slot were cut at once"
    )
    fault_report.row(
        "Edition longer than its time budget (a polite crawl of a slow site)",
        f"at the deadline the {len(cut)} requests left, queued or not sent yet, are skipped "
        "as `deadline`; the crawl ends and is marked incomplete",
        "what was fetched before is kept; every page and article not fetched is listed",
    )


@pytest.mark.parametrize(
    "name, value", [("EPAPER_EDITION_BUDGET", "15m"), ("EPAPER_DOWNLOAD_TIMEOUT", "0")]
)
def test_a_bad_budget_or_timeout_fails_the_crawl_naming_the_variable(
    name, value, tmp_path, monkeypatch
):
    monkeypatch.setenv(name, value)
    site = build_site("founder-new", "bcrb", [DAY], pages=1)
    with ReplicaServer([site]) as server:
        with pytest.raises(CrawlError) as failure:
            crawl(server, site, tmp_path / "crawl")
        assert server.requests == 0
    assert (
        str(failure.value)
        == f"ValueError: {name} must be a number of seconds above 0, not {value!r}"
    )


def test_an_edition_cut_at_its_deadline_is_archived_as_incomplete(
    tmp_path, monkeypatch, archive_env, prefect_api
):
    from epaper.demo import write_papers_file
    from epaper.report import summary
    from flows.archive import archive_edition
    from storage.archive import open_archive

    monkeypatch.setenv("EPAPER_EDITION_BUDGET", "8")
    site = build_site("founder-new", "bcrb", [DAY], pages=3)
    (slow,) = site.fault_paths("article:0")
    with ReplicaServer([site], answers={slow: trickle()}) as server:
        papers = write_papers_file([site], server.base_url, tmp_path / "papers.yaml")
        result = archive_edition(site.paper, DAY.isoformat(), str(papers))
    assert result["status"] == "incomplete" and result["incomplete"].startswith("deadline: ")
    assert "(incomplete: deadline: " in summary(result), (
        "the terminal line says the edition was cut"
    )
    with open_archive() as archive:
        manifest = json.loads(archive.get(result["key"]))
    assert manifest["status"] == "incomplete" and manifest["incomplete"] == result["incomplete"]
    assert any(s["reason"].startswith("deadline: ") for s in manifest["skipped"])
