"""Edition checks: invariants every real edition satisfies, as pure functions.

A crawl can succeed and still have lost most of an edition (a family that does not fit
the site takes article links for pages, a page list that half failed). Each check returns
its failures as {"check": name, "detail": what is wrong}; an empty list means it holds.
The publish step runs them all (`edition_checks`) and marks the manifest incomplete.
"""

from __future__ import annotations

from statistics import median

# An edition under this share of its paper's recent median article count is suspect.
SMALL_EDITION_SHARE = 0.5
# Fewer earlier editions than this say too little about what is normal for the paper.
MIN_HISTORY = 2
RECENT_EDITIONS = 7  # how many earlier manifests the count is compared with


def failure(check: str, detail: str) -> dict:
    return {"check": check, "detail": detail}


def _spans(numbers: list[int]) -> str:
    """[2, 3, 4, 7] -> "2-4, 7"."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][-1] + 1:
            spans[-1].append(n)
        else:
            spans.append([n])
    return ", ".join(str(s[0]) if len(s) == 1 else f"{s[0]}-{s[-1]}" for s in spans)


def page_numbers(pages: list[dict]) -> list[dict]:
    """Page numbers unique and contiguous. The spider numbers lettered sections (A01 …
    B08) by list position, so they are contiguous too; a gap is a page not crawled."""
    numbers = [int(p["page_no"]) for p in pages]
    out = []
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        out.append(failure("page_numbers", f"page numbers repeated: {_spans(repeated)}"))
    if numbers:
        gaps = set(range(min(numbers), max(numbers) + 1)) - set(numbers)
        if gaps:
            out.append(failure("page_numbers", f"pages missing: {_spans(sorted(gaps))}"))
    return out


def pages_not_articles(pages: list[dict], articles: list[dict]) -> list[dict]:
    """No page is an article: a page URL that is also an article URL means the family's
    selectors took article links for pages (a class the page and article lists share)."""
    article_urls = {a["url"] for a in articles}
    both = sorted({p["url"] for p in pages} & article_urls)
    if not both:
        return []
    return [
        failure("pages_not_articles", f"{len(both)} page URLs are article URLs, first {both[0]}")
    ]


def pages_have_articles(
    pages: list[dict], articles: list[dict], skipped: list[dict] | None = None
) -> list[dict]:
    """Every non-ad page has articles (pseudo-articles such as 导读 count: the page's
    list was read). Skipped items name no page, so each skipped link (an article that
    failed, a request cut by the deadline) may explain one empty page."""
    with_articles = {int(a["page_no"]) for a in articles}
    empty = sorted(
        int(p["page_no"])
        for p in pages
        if p.get("kind", "news") != "ad" and int(p["page_no"]) not in with_articles
    )
    page_urls = {p["url"] for p in pages}
    explained = len({s.get("url") for s in skipped or [] if s.get("url") not in page_urls})
    if len(empty) <= explained:
        return []
    return [
        failure(
            "pages_have_articles",
            f"pages without articles: {_spans(empty)} ({explained} skipped links)",
        )
    ]


def articles_accounted(
    linked: int | None, articles: list[dict], skipped: list[dict], pages: list[dict]
) -> list[dict]:
    """Every article the pages linked (lists and hotspots: `linked` distinct URLs) was
    archived or skipped with its reason. None: the crawl did not count its links."""
    if linked is None:
        return []
    page_urls = {p["url"] for p in pages}
    fetched = {a["url"] for a in articles}
    # a skipped page or PDF is counted too: the check may pass a loss, never invent one
    skips = {s["url"] for s in skipped if s.get("url") not in page_urls} - fetched
    unaccounted = linked - len(fetched) - len(skips)
    if unaccounted <= 0:
        return []
    return [
        failure(
            "articles_accounted",
            f"{unaccounted} of {linked} linked articles neither archived nor skipped "
            f"({len(fetched)} archived, {len(skips)} skipped)",
        )
    ]


def article_count(count: int, recent: list[int]) -> list[dict]:
    """The article count within reach of the paper's recent editions (`recent`: the
    counts of up to RECENT_EDITIONS earlier complete editions)."""
    if len(recent) < MIN_HISTORY:
        return []
    typical = median(recent)
    if count >= SMALL_EDITION_SHARE * typical:
        return []
    return [
        failure(
            "article_count",
            f"{count} articles, under {SMALL_EDITION_SHARE:.0%} of the median {typical:g} "
            f"of the last {len(recent)} editions",
        )
    ]


def edition_checks(
    pages: list[dict],
    articles: list[dict],
    skipped: list[dict],
    linked: int | None,
    count: int,
    recent: list[int],
) -> list[dict]:
    """Every failed check of an edition. `pages`, `articles`, `skipped`: the crawl's
    items (articles of every kind, with url and page_no); `linked`: how many distinct
    article URLs its pages linked, if counted; `count`: the articles its manifest lists;
    `recent`: the article counts of its paper's last complete editions."""
    return [
        *page_numbers(pages),
        *pages_not_articles(pages, articles),
        *pages_have_articles(pages, articles, skipped),
        *articles_accounted(linked, articles, skipped, pages),
        *article_count(count, recent),
    ]


def names(checks: list[dict]) -> str:
    """ "page_numbers, article_count": each failed check once, in order."""
    return ", ".join(dict.fromkeys(c["check"] for c in checks))
