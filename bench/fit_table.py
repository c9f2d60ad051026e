"""docs/fit.md: does each catalogue entry's family spider find the pages and articles of an
edition rebuilt from the paper's own public crawler code (replica/evidence.py)?

    .venv/bin/python -m bench.fit_table [--only ID ...] [--out docs/fit.md]

Every era of every entry with a family gets one row: the selectors its evidence records
(replica/data/evidence.yaml), and what our spider and clean step made of a 4-page,
12-article edition built from them alone, served on 127.0.0.1. `fits` means every page
and every article found, each on its page, nothing else taken for one. The titles column
says how many headlines the clean step got right where the evidence names the headline's
cell (rebuilt as that cell alone, without the site's other markup: a hint, not a verdict).
Entries whose evidence records no usable selectors say why.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from bench import harness
from papers.catalogue import NO_FAMILY, load_papers
from papers.workdir import Workdir, read_jsonl
from replica import ReplicaServer
from replica.evidence import RebuiltEdition, Unrebuildable, load, main_selector
from spiders.crawl import CrawlError, run_crawl
from text.clean import clean_article

DAY = date(2025, 4, 28)
ROOT = Path(__file__).resolve().parents[1]


def era_keys() -> list[tuple[str, object, object]]:
    """(row key, paper, era) of every era of every catalogue entry, catalogue order."""
    out = []
    for paper in load_papers().values():
        for i, era in enumerate(paper.eras):
            out.append((paper.id if len(paper.eras) == 1 else f"{paper.id}@{i}", paper, era))
    return out


def crawl_items(key: str, family: str, url: str, workdir: Path) -> tuple[dict, dict]:
    try:
        stats = run_crawl(key, DAY.isoformat(), family, url, str(workdir))
    except CrawlError as exc:  # nothing found at all
        stats = {"error": str(exc).split(" at http", 1)[0]}
    items: dict[str, list[dict]] = {"page": [], "article": []}
    if (workdir / Workdir.ITEMS).exists():  # a crawl that found nothing may leave none
        for item in read_jsonl(workdir / Workdir.ITEMS):
            items.setdefault(item["type"], []).append(item)
    return stats, items


def score(edition: RebuiltEdition, base: str, items: dict, stats: dict) -> dict:
    """What the crawl found of the rebuilt edition's truth."""
    truth = edition.truth
    pages = {p["url"].removeprefix(base).split("?", 1)[0]: p for p in items["page"]}
    got_pages = sum(p["path"] in pages for p in truth["pages"])
    articles = {a["url"].removeprefix(base): a for a in items["article"]}
    placed = titled = 0
    for want in truth["articles"]:
        found = articles.get(want["path"])
        if found is None:
            continue
        placed += int(found["page_no"]) == want["page_no"]
        titled += clean_article(found)["title"] == want["title"]
    has_title = bool(edition.spec.get("title"))
    ok = got_pages == len(truth["pages"]) and placed == len(truth["articles"]) == len(articles)
    return {
        "pages": f"{got_pages}/{len(truth['pages'])}",
        "articles": f"{placed}/{len(truth['articles'])}"
        + (f" (+{len(articles) - placed} wrong)" if len(articles) > placed else ""),
        "titles": f"{titled}/{len(truth['articles'])}" if has_title else "—",
        "verdict": "fits"
        if ok
        else "MISSES" + (f": {stats['error']}" if stats.get("error") else ""),
    }


def rows(only: set[str] | None = None) -> list[dict]:
    specs = load()
    todo, out = [], {}
    for key, paper, era in era_keys():
        if only and key not in only and paper.id not in only:
            continue
        row = {"key": key, "name": paper.name, "family": era.family}
        out[key] = row
        spec = specs.get(key)
        if era.family == NO_FAMILY:
            row["verdict"] = "no family: refused at archive"
        elif not spec or spec.get("pages") is None or spec.get("articles") is None:
            row["verdict"] = "not rebuilt: " + ((spec or {}).get("why") or "no selectors recorded")
        else:
            row["by_url"] = main_selector(spec["pages"])["kind"] == "regex"
            row["selectors"] = " · ".join(
                f"`{main_selector(spec[role])['sel']}`" for role in ("pages", "articles")
            )
            try:
                todo.append((key, era, RebuiltEdition(key, era.family, era.edition_url, spec, DAY)))
            except Unrebuildable as exc:
                row["verdict"] = f"not rebuilt: {exc}"
    with (
        harness.environment(EPAPER_DOWNLOAD_DELAY="0"),
        tempfile.TemporaryDirectory(prefix="epaper-fit-") as tmp,
        ReplicaServer([e for _, _, e in todo]) as server,
    ):

        def one(job):
            key, era, edition = job
            stats, items = crawl_items(
                key, era.family, server.base_url + edition.first_path, Path(tmp) / key
            )
            out[key].update(score(edition, server.base_url, items, stats))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one, todo))
    return list(out.values())


def table(found: list[dict]) -> str:
    fits = sum(r["verdict"] == "fits" for r in found)
    rebuilt = sum("pages" in r for r in found)
    by_url = sum("pages" in r and r["by_url"] for r in found)
    with_title = sum(r.get("titles", "—") not in ("—", "") for r in found)
    titled = sum(r.get("titles", "").startswith("12/") for r in found)
    lines = [
        "# Does each paper's family fit its own evidence?",
        "",
        "Generated by `.venv/bin/python -m bench.fit_table` (do not edit). Each row is one era",
        "of a catalogue entry: an edition of 4 pages and 12 articles rebuilt from the page-list,",
        "article-list and headline selectors of the paper's public crawler code",
        "(`replica/data/evidence.yaml`, from the entry's `evidence`), crawled by the family",
        "spider and cleaned by the clean step (replica/evidence.py says how markup is rebuilt).",
        "",
        f"**{fits} of {rebuilt} rebuilt eras fit**; {len(found) - rebuilt} eras not rebuilt.",
        f"{by_url} of the rebuilt eras' code finds links by URL rules alone (Scrapy"
        " LinkExtractor regexes): their links are rebuilt in plain markup, so the row tests the",
        "family's URL shapes. Titles (the clean step's headline, where the evidence names its",
        f"cell, rebuilt as that cell alone): {titled} of {with_title} eras right.",
        "",
        "| entry | paper | family | pages · articles selectors (evidence) | pages | articles"
        " | titles | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in found:
        cells = [
            r["key"],
            r["name"],
            r["family"],
            r.get("selectors", "").replace("|", "\\|"),
            r.get("pages", ""),
            r.get("articles", ""),
            r.get("titles", ""),
            r["verdict"].replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="entry ids (or id@era) to check")
    parser.add_argument("--out", default=str(ROOT / "docs" / "fit.md"))
    args = parser.parse_args(argv)
    found = rows(set(args.only) if args.only else None)
    text = table(found)
    if args.only:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(text.splitlines()[8])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
