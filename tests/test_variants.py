"""Every real shape of a family, crawled completely (issue 15): the replica's generated
variation space per family (`variant=seed`, replica/families/*.py `variants`), each seed one
site, all on one server; every article found once, pages numbered and named as the
edition prints them, pseudo-articles and ads marked."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from replica import ReplicaServer, build_site
from spiders.crawl import run_crawl

DAY = date(2025, 4, 28)
SEEDS = range(20)
FAMILIES = ("founder-classic", "paperindex", "founder-new", "whb", "xmwb")


def items_of(workdir) -> dict[str, list[dict]]:
    items: dict[str, list[dict]] = {"page": [], "article": [], "missing": [], "skipped": []}
    for line in (workdir / "items.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        items[item["type"]].append(item)
    return items


def shortfalls(site, base_url: str, items: dict[str, list[dict]]) -> list[str]:
    """What the crawl of `site` got wrong, one line each; [] for a complete crawl."""
    truth = site.truth(DAY)
    wrong = []
    got = [a["url"].removeprefix(base_url) for a in items["article"]]
    want = {a["url"]: a for a in truth["articles"]}
    if len(got) != len(set(got)):
        wrong.append("an article yielded twice")
    if missed := sorted(set(want) - set(got)):
        wrong.append(f"articles missed: {missed}")
    if extra := sorted(set(got) - set(want)):
        wrong.append(f"not articles, taken for ones: {extra}")
    for a in items["article"]:
        w = want.get(a["url"].removeprefix(base_url))
        if w and (a["page_no"], a["page_name"], a["kind"]) != (
            w["page_no"],
            w["page_name"],
            w["kind"],
        ):
            wrong.append(f"{a['url']}: page {a['page_no']} {a['page_name']!r} {a['kind']}")
    pages = {p["url"].removeprefix(base_url): p for p in items["page"]}
    if sorted(pages) != sorted(p["url"] for p in truth["pages"]):
        wrong.append(f"pages: {sorted(pages)}")
    for w in truth["pages"]:
        p = pages.get(w["url"])
        if p and (p["page_no"], p["page_name"], p["kind"]) != (
            w["page_no"],
            w["page_name"],
            w["kind"],
        ):
            wrong.append(f"{w['url']}: page {p['page_no']} {p['page_name']!r} {p['kind']}")
        pdf = None if site.renderer.opt.get("pdf") == "none" else w["pdf_url"]
        if p and (p["pdf_url"] or "").removeprefix(base_url) != (pdf or ""):
            wrong.append(f"{w['url']}: pdf {p['pdf_url']}, not {pdf}")
    return wrong


@pytest.mark.parametrize("family", FAMILIES)
def test_every_variant_of_a_family_is_crawled_completely(family, tmp_path, monkeypatch):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    sites = [
        build_site(family, f"v{seed:02d}", [DAY], variant=seed, pages=4, masthead=seed % 2 == 0)
        for seed in SEEDS
    ]
    with ReplicaServer(sites) as server:

        def crawl(site):
            workdir = tmp_path / site.paper
            url = server.base_url + site.url_for(DAY)
            stats = run_crawl(site.paper, DAY.isoformat(), family, url, str(workdir))
            wrong = shortfalls(site, server.base_url, items_of(workdir))
            if stats.get("error"):
                wrong.append(f"error: {stats['error']}")
            return site, wrong

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(crawl, sites))
    complete = [site for site, wrong in results if not wrong]
    print(f"\n{family}: variants crawled completely {len(complete)} / generated {len(sites)}")
    failures = {
        f"{site.paper} {sorted((k, site.renderer.opt[k]) for k in site.renderer.variants)}": wrong
        for site, wrong in results
        if wrong
    }
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


def test_a_variant_is_a_pure_function_of_its_seed_and_the_default_is_untouched():
    one, again = (build_site("founder-classic", "v01", [DAY], variant=1) for _ in range(2))
    plain = build_site("founder-classic", "v01", [DAY])
    path = one.url_for(DAY)
    assert one.resolve(path, "h").body == again.resolve(path, "h").body
    assert one.resolve(path, "h").body != plain.resolve(path, "h").body
    assert "variant" not in plain.renderer.opt and "page_list" not in plain.renderer.opt


def test_shared_td_default_cells_give_every_article_and_the_same_pages_twice(tmp_path, monkeypatch):
    """The issue's site: article cells with the page cells' td.default class, no bmdhTable.
    The spider once took the articles for pages; page numbers followed crawl order."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site(
        "founder-classic",
        "tdshared",
        [DAY],
        variant=0,
        page_list="td_default",
        article_list="navlist_default",
        pdf="beside",
        pages=8,
    )
    runs = []
    with ReplicaServer([site]) as server:
        for run in ("first", "again"):
            workdir = tmp_path / run
            url = server.base_url + site.url_for(DAY)
            run_crawl(site.paper, DAY.isoformat(), "founder-classic", url, str(workdir))
            items = items_of(workdir)
            assert shortfalls(site, server.base_url, items) == [], run
            runs.append(sorted(json.dumps(p, sort_keys=True) for p in items["page"]))
    assert runs[0] == runs[1]
