"""The steps of one edition as plain functions over its work folder.

The Prefect tasks in flows/archive.py are thin wrappers around these, so tests
can run any step without Prefect.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from dataset.cdxj import publish_indexes
from papers import checks
from papers.catalogue import Paper
from papers.workdir import Workdir, items, named_if_full, raise_if_full, read_jsonl, write_jsonl
from spiders.crawl import CrawlError, run_crawl
from spiders.httpcache import WarcError, WarcIndex, revalidate_settings
from storage import keys
from storage.archive import Archive, ObjectNotFound, in_parallel, open_archive

if TYPE_CHECKING:
    from storage.catalog import Catalog

# clean, dedupe (jieba's dictionary, datasketch with scipy) and the catalog (SQLAlchemy) are
# imported by the steps that use them: a flow run spends most of its life waiting on its
# crawl, and holds ~120 MB less meanwhile (docs/prefect.md, sizing).

log = logging.getLogger(__name__)
# Tests name the step files by these.


def fetch_edition(paper: Paper, date, workdir: Path) -> dict:
    """Crawl one edition into `workdir`; returns the crawl stats.

    An edition archived before is re-crawled conditionally: each request carries the
    validators of the archived crawl's response and a 304 reuses it (spiders/httpcache.py).
    """
    with open_archive() as archive:
        try:
            warcs = previous_warcs(archive, paper.id, date.isoformat(), workdir / Workdir.PREVIOUS)
        except (WarcError, ObjectNotFound) as exc:
            # A damaged earlier crawl must not block archiving the edition anew.
            log.warning("crawling %s %s without revalidation: %s", paper.id, date, exc)
            warcs = []
    stats = crawl_edition(paper, date, workdir, revalidate_settings(warcs) if warcs else None)
    return {**stats, "region": paper.region}  # for the search index's region filter


def crawl_edition(paper: Paper, date, workdir: Path, settings: dict | None = None) -> dict:
    """Run the paper's spider for `date` into `workdir` with extra Scrapy `settings`."""
    era = paper.era(date)
    try:
        return run_crawl(
            paper.id,
            date.isoformat(),
            era.family,
            paper.edition_url(date),
            str(workdir),
            encoding=era.encoding,
            settings=settings,
        )
    except (CrawlError, OSError, ValueError) as exc:
        # On a full disk the crawl fails in ways that do not say so (a stats.json cut short).
        raise_if_full(workdir, exc)
        raise


def previous_warcs(archive: Archive, paper: str, date: str, dest: Path) -> list[Path]:
    """The archived crawl of the edition as WARC files in `dest`: its own first, then the
    earlier ones its revisit records refer to; [] if the edition was never archived.
    WarcError names the object that is corrupt, truncated or missing records."""
    manifest_key = keys.edition_manifest(paper, date)
    if not archive.exists(manifest_key):
        return []
    latest = json.loads(archive.get(manifest_key))["crawl"]["warc_key"]
    folder = latest.rsplit("/", 1)[0] + "/"
    # The earlier crawls, newest first, by the time in their names (old and new forms).
    earlier = sorted(
        (
            key
            for key in archive.list(folder)
            if keys.is_raw_warc(key) and keys.warc_order(key) < keys.warc_order(latest)
        ),
        key=keys.warc_order,
        reverse=True,
    )
    with named_if_full(dest):
        dest.mkdir(parents=True, exist_ok=True)
    index = WarcIndex()
    for key in [latest, *earlier]:
        path = dest / key.rsplit("/", 1)[1]
        data = archive.get(key)
        with named_if_full(path):
            path.write_bytes(data)
        try:
            index.add(path)
        except WarcError as exc:
            raise WarcError(f"{key} in bucket {archive.bucket!r}: {exc}") from None
        if not index.unresolved():
            return index.paths
    raise WarcError(
        f"{latest} in bucket {archive.bucket!r}: its revisit records refer to "
        f"{len(index.unresolved())} records found in no earlier WARC of the edition"
    )


def missing_reason(workdir: Path) -> str | None:
    """Why there is no edition (404, 301 to the root, …), or None when there is one."""
    for item in items(workdir, "missing"):
        return f"{item.get('reason', 'no edition')} at {item.get('url')}"
    return None


def clean_edition(workdir: Path) -> int:
    """Article items → contract fields; pseudo-articles (ads, 导读, mastheads) stay out."""
    from text.clean import clean_article

    def cleaned():
        for item in items(workdir, "article"):
            if item.get("kind", "news") != "news":
                continue
            fields = clean_article(item)
            yield {
                "paper": item["paper"],
                "date": item["date"],
                "page_no": int(item["page_no"]),
                "page_name": item.get("page_name", ""),
                "url": item["url"],
                "article_id": item["article_id"],
                **fields,
            }

    return write_jsonl(workdir / Workdir.CLEANED, cleaned())


def dedupe_edition(workdir: Path, catalog: Catalog) -> int:
    """Hash, keywords and the cross-paper duplicate record of every cleaned article."""
    from text.dedupe import keywords, text_sha256

    def deduped():
        for article in read_jsonl(workdir / Workdir.CLEANED):
            key = keys.article(
                article["paper"], article["date"], article["page_no"], article.pop("article_id")
            )
            record = catalog.assign(key, article["paper"], article["date"], article["text"])
            yield {
                "key": key,
                **article,
                "keywords": keywords(article["text"]),
                # The contract's: of the normalised text, as the catalog holds it.
                "sha256": text_sha256(article["text"]),
                "dedupe": {
                    "cluster": record["cluster"],
                    "canonical": record["canonical"],
                    "similarity": round(float(record["similarity"]), 4),
                },
            }

    return write_jsonl(workdir / Workdir.DEDUPED, deduped())


def _json_bytes(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def _publish_pages(
    workdir: Path, archive: Archive, paper: str, date: str
) -> tuple[list[dict], list[dict]]:
    """The pages, and the PDFs whose text could not be extracted (skipped with the reason)."""
    from text.pdftext import extract

    pages, writes, skipped = [], [], []
    for page in sorted(items(workdir, "page"), key=lambda p: int(p["page_no"])):
        page_no = int(page["page_no"])
        pdf_key = None
        if page.get("pdf_path"):
            path = workdir / page["pdf_path"]
            pdf_key = keys.page_pdf(paper, date, page_no)
            extracted = extract(path.read_bytes())
            if extracted.skipped:
                skipped.append({"url": page["pdf_url"], "reason": extracted.skipped})
            text = extracted.text.encode("utf-8")
            writes += [
                partial(archive.put_file, pdf_key, path, "application/pdf"),
                partial(
                    archive.put,
                    keys.page_text(paper, date, page_no),
                    text,
                    "text/plain; charset=utf-8",
                ),
            ]
        listed = {
            "page_no": page_no,
            "page_name": page.get("page_name", ""),
            "url": page["url"],
            "pdf_key": pdf_key,
        }
        # Image fields only where there is an image: an edition archived before page images
        # existed, re-crawled unchanged, keeps its manifest unchanged.
        if page.get("image_path"):  # files/NN.jpg: its extension is the format sniffed
            ext = page["image_path"].rsplit(".", 1)[-1]
            image_key = keys.page_image(paper, date, page_no, ext)
            path = workdir / page["image_path"]
            writes.append(partial(archive.put_file, image_key, path, keys.IMAGE_TYPES[ext]))
            listed.update(image_key=image_key, width=page.get("width"), height=page.get("height"))
        pages.append(listed)
    in_parallel(writes)
    return pages, skipped


def _zone(zones: dict, url: str) -> dict:
    return {"zone": zones[url]} if url in zones else {}


def _publish_articles(workdir: Path, archive: Archive) -> list[dict]:
    # Where each article's hotspot lies on its page image, as the crawl read it; no field
    # where there is none, so an article archived before zones existed stays unchanged.
    zones = {item["url"]: item["zone"] for item in items(workdir, "article") if item.get("zone")}
    articles = [
        (article.pop("key"), {**article, **_zone(zones, article["url"])})
        for article in read_jsonl(workdir / Workdir.DEDUPED)
    ]
    stored = in_parallel(
        partial(archive.put, key, _json_bytes(article), "application/json")
        for key, article in articles
    )
    listed = [
        {
            "key": key,
            "version_id": result.version_id,
            "url": article["url"],
            "page_no": article["page_no"],
            "title": article["title"],
            "sha256": article["sha256"],
            "cluster": article["dedupe"]["cluster"],
            **_zone(zones, article["url"]),
        }
        for (key, article), result in zip(articles, stored)
    ]
    # Crawl order varies run to run; a stable order keeps an unchanged manifest unchanged.
    return sorted(listed, key=lambda a: (a["page_no"], a["key"]))


def _keep_archived(manifest: dict, previous: dict) -> None:
    """What an earlier crawl archived and this one failed to fetch (a reset, a 503) stays
    listed with its archived version: nothing once archived drops out of its edition."""
    listed = {a["key"] for a in manifest["articles"]}
    kept = [a for a in previous["articles"] if a["key"] not in listed]
    manifest["articles"] = sorted(
        manifest["articles"] + kept, key=lambda a: (a["page_no"], a["key"])
    )
    pages = {p["page_no"]: p for p in manifest["pages"]}
    for page in previous["pages"]:
        now = pages.setdefault(page["page_no"], page)
        now["pdf_key"] = now["pdf_key"] or page["pdf_key"]
        if not now.get("image_key") and page.get("image_key"):  # manifests before images lack it
            now.update({k: page.get(k) for k in ("image_key", "width", "height")})
    manifest["pages"] = [pages[no] for no in sorted(pages)]


def recent_article_counts(archive: Archive, paper: str, date: str) -> list[int]:
    """The article counts of the paper's last complete editions archived before `date`
    (of its last `checks.RECENT_EDITIONS` manifests), for the article count check."""
    manifests = sorted(
        key
        for key in archive.list(f"editions/{keys.paper_id(paper)}/")
        if key.endswith("/manifest.json") and key.split("/")[2] < date
    )[-checks.RECENT_EDITIONS :]
    recent = [json.loads(archive.get(key)) for key in manifests]
    # an edition that failed its checks says nothing of what is normal for the paper
    return [len(m["articles"]) for m in recent if m.get("status") == "complete"]


def check_edition(workdir: Path, archive: Archive, manifest: dict, stats: dict) -> list[dict]:
    """The failed edition checks (papers/checks.py) of this crawl and its manifest (which
    keeps what earlier crawls archived: the edition as archived is what is checked)."""
    return checks.edition_checks(
        pages=list(items(workdir, "page")),
        articles=[*items(workdir, "article"), *manifest["articles"]],
        skipped=list(items(workdir, "skipped")),
        linked=stats.get("articles_linked"),
        count=len(manifest["articles"]),
        recent=recent_article_counts(archive, manifest["paper"], manifest["date"]),
    )


def publish_edition(workdir: Path, archive: Archive, paper: str, date: str, stats: dict) -> dict:
    """PDFs and articles first, the WARC, then the manifest last: an edition is
    visible only once complete. An unchanged re-run writes nothing at all.

    An edition that fails a check (papers/checks.py) is published all the same, with
    status incomplete and its failed checks: nothing fetched is lost."""
    pages, unreadable = _publish_pages(workdir, archive, paper, date)
    manifest = {
        # A crawl cut short (time or request budget) says so; a later full run sets it back.
        "paper": paper,
        "date": date,
        "status": "incomplete" if stats.get("incomplete") else "complete",
        **({"incomplete": stats["incomplete"]} if stats.get("incomplete") else {}),
        "pages": pages,
        "articles": _publish_articles(workdir, archive),
        "skipped": sorted(
            (
                {"url": s.get("url"), "reason": s.get("reason")}
                for s in [*items(workdir, "skipped"), *unreadable]
            ),
            key=lambda s: (s["url"] or "", s["reason"] or ""),
        ),
    }
    manifest_key = keys.edition_manifest(paper, date)
    previous = json.loads(archive.get(manifest_key)) if archive.exists(manifest_key) else None
    if previous:
        previous.pop("crawl", None)
        _keep_archived(manifest, previous)
    failed = check_edition(workdir, archive, manifest, stats)
    if failed:
        manifest["status"] = "incomplete"
        manifest["checks"] = failed
    if previous == manifest:
        index_edition(workdir, {paper: stats.get("region", "")})
        return {**manifest, "key": manifest_key, "changed": False}
    # A reprocess publishes the archived crawl's WARC again: under the key it has.
    warc_key = stats.get("warc_key") or keys.raw_warc(
        paper, date, dt.datetime.fromisoformat(stats["started"])
    )
    archive.put_file(warc_key, workdir / Workdir.WARC, "application/warc")
    publish_indexes(archive, paper, date, warc_key, workdir / Workdir.WARC)
    manifest["crawl"] = {
        "started": stats["started"],
        "finished": stats["finished"],
        "requests": stats["requests"],
        "bytes": stats["bytes"],
        "warc_key": warc_key,
    }
    archive.put(manifest_key, _json_bytes(manifest), "application/json")
    index_edition(workdir, {paper: stats.get("region", "")})
    return {**manifest, "key": manifest_key, "changed": True}


def index_edition(workdir: Path, regions: dict[str, str] | None = None) -> int:
    """The edition's articles into the search index (dataset/search.py), once published:
    idempotent (an unchanged article writes nothing), so an unchanged re-run costs a lookup.
    `regions`: paper id → its region in the papers catalogue (an empty one is not stored)."""
    from dataset.search import SearchIndex

    with SearchIndex() as index:
        return index.add(read_jsonl(workdir / Workdir.DEDUPED), regions)
