"""Which CMS family fits an e-paper site: one edition crawled with every registered family.

`epaper probe URL` reads the edition's date from its address, crawls it once per family (a
small request budget, no PDFs, a temporary work folder each) and prints a papers.yaml entry
for the family that finds most; `epaper probe PAPER --date D` tells whether a catalogued
paper still fits its family (docs/probe.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from papers import checks
from papers import family as registry
from papers.catalogue import NO_FAMILY
from papers.workdir import Workdir
from spiders.crawl import CrawlError, run_crawl

# A probe needs the page list and a few articles, not the whole edition.
PROBE_REQUESTS = 40
PROBE_SECONDS = 120  # per family, the crawl's own time budget (it ends there, incomplete)

# The date shapes of edition addresses, as strftime formats and the text they print.
DATE_SHAPES = (
    ("%Y-%m-%d", r"\d{4}-\d{2}-\d{2}"),
    ("%Y-%m/%d", r"\d{4}-\d{2}/\d{2}"),
    ("%Y%m/%d", r"\d{6}/\d{2}"),
    ("%Y%m%d", r"\d{8}"),
)
SHAPES_TEXT = "YYYY-MM-DD, YYYY-MM/DD, YYYYMM/DD or YYYYMMDD"
# Host labels that name the service, not the paper (epaper.hljnews.cn is hljnews).
GENERIC_LABELS = {"www", "paper", "epaper", "szb", "dzb", "e", "news", "dz", "m", "wap", "bz"}


class ProbeError(ValueError):
    """The address cannot be probed; the message is one line naming it."""


@dataclass
class Fit:
    """What one family's crawl of the edition found."""

    family: str
    pages: int = 0
    articles: int = 0
    skipped: int = 0
    missing: str | None = None  # no edition there: the site's answer
    incomplete: str | None = None  # the probe's budget cut the crawl: counts are a floor
    error: str | None = None
    failed: str = ""  # the edition checks (papers/checks.py) its find fails

    @property
    def found(self) -> bool:
        return (
            not (self.error or self.missing or self.failed) and self.pages > 0 and self.articles > 0
        )

    @property
    def counts(self) -> str:
        return f"{self.pages} pages, {self.articles} articles, {self.skipped} skipped"


def find_date(url: str, day: dt.date | None = None) -> tuple[dt.date, str]:
    """The edition date in `url` (the first in its path, or `day`) and the URL as a
    papers.yaml template, every copy of that date replaced by {date:FORMAT}."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProbeError(f"{url}: not an http(s) address")
    found = []
    for fmt, pattern in DATE_SHAPES:
        for match in re.finditer(rf"(?<!\d){pattern}(?!\d)", parts.path):
            try:
                when = dt.datetime.strptime(match.group(), fmt).date()
            except ValueError:  # 20251399 is digits, not a date
                continue
            if day is None or when == day:
                found.append((match.start(), when, fmt, match.group()))
    if not found:
        wanted = f"date {day}" if day else "date"
        raise ProbeError(
            f"{url}: no edition page address: its path holds no {wanted} as {SHAPES_TEXT}"
        )
    _, when, fmt, text = min(found)
    literal = url.replace("{", "{{").replace("}", "}}")
    return when, literal.replace(text, "{date:" + fmt + "}")


def suggest_id(url: str) -> str:
    """A paper id from the host's first label that names the paper (the path's first
    segment for an IP address), lower-case [a-z0-9-]."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
        labels = parts.path.split("/")[1:2]
    except ValueError:
        labels = host.split(".")[:-1] or [host]
    for label in labels:
        name = re.sub(r"[^a-z0-9-]", "", label.lower()).strip("-")
        if name and name not in GENERIC_LABELS:
            return name
    return "paper"


def try_family(
    family: str,
    paper: str,
    day: dt.date,
    url: str,
    encoding: str | None = None,
    requests: int = PROBE_REQUESTS,
) -> Fit:
    """Crawl the edition at `url` with `family` into a temporary folder, and count."""
    fit = Fit(family)
    settings = {
        "EPAPER_REQUEST_BUDGET": requests,
        "EPAPER_EDITION_BUDGET": PROBE_SECONDS,
        "ITEM_PIPELINES": {},  # page PDFs tell nothing of the fit
    }
    with tempfile.TemporaryDirectory(prefix=f"epaper-probe-{family}-") as folder:
        try:
            stats = run_crawl(
                paper,
                day.isoformat(),
                family,
                url,
                folder,
                encoding=encoding,
                settings=settings,
                timeout=PROBE_SECONDS + 60,
            )
            fit.incomplete = stats.get("incomplete")
        except CrawlError as exc:
            fit.error = str(exc)
        items = Path(folder) / Workdir.ITEMS
        lines = items.read_text(encoding="utf-8").splitlines() if items.exists() else []
    items_by_type: dict[str, list[dict]] = {"page": [], "article": [], "skipped": []}
    for item in map(json.loads, lines):
        items_by_type.setdefault(item["type"], []).append(item)
        if item["type"] == "missing":
            fit.missing = item["reason"]
    pages, articles = items_by_type["page"], items_by_type["article"]
    fit.pages, fit.articles, fit.skipped = len(pages), len(articles), len(items_by_type["skipped"])
    failed = checks.page_numbers(pages) + checks.pages_not_articles(pages, articles)
    if not fit.incomplete:  # a crawl the budget cut leaves pages without their articles
        failed += checks.pages_have_articles(pages, articles)
    fit.failed = checks.names(failed)
    return fit


def probe(
    url: str,
    day: dt.date,
    paper: str,
    encoding: str | None = None,
    requests: int = PROBE_REQUESTS,
) -> list[Fit]:
    """Every registered family's find on the edition at `url`, in registry order. One
    after the other: at once they would hit the site several times in parallel."""
    return [try_family(f.name, paper, day, url, encoding, requests) for f in registry.families()]


def best(fits: list[Fit]) -> Fit | None:
    """The family that finds most pages, then most articles (the first on a tie), or None.
    A wrong family often still finds the start page and its image-map articles."""
    found = [fit for fit in fits if fit.found]
    return max(found, key=lambda fit: (fit.pages, fit.articles), default=None)


def fits_better(fits: list[Fit], family: str) -> Fit | None:
    """A family that finds more than `family` does, or None when `family` fits best."""
    top, own = best(fits), next((fit for fit in fits if fit.family == family), None)
    if top is None or top.family == family:
        return None
    if own is not None and own.found and (own.pages, own.articles) >= (top.pages, top.articles):
        return None
    return top


def table(fits: list[Fit]) -> list[str]:
    """One line per family: what its crawl found, or why it found nothing."""
    top = best(fits)
    lines = [f"{'family':18} {'pages':>5} {'articles':>8} {'skipped':>7}  note"]
    for fit in fits:
        note = (
            "best fit" * (fit is top)
            or (fit.error and f"error: {fit.error}")
            or (fit.missing and f"no edition: {fit.missing}")
            or (fit.failed and f"fails checks: {fit.failed}")
            or ""
        )
        if fit.incomplete:
            note = f"{note}; probe budget: {fit.incomplete}" if note else fit.incomplete
        lines.append(
            f"{fit.family:18} {fit.pages:>5} {fit.articles:>8} {fit.skipped:>7}  {note}".rstrip()
        )
    return lines


def no_edition(url: str, fits: list[Fit]) -> str:
    """The one line for an address where no family finds an edition."""
    missing = next((fit.missing for fit in fits if fit.missing), None)
    if missing:
        return f"{url}: no edition there ({missing})"
    return (
        f"{url}: no e-paper edition page: none of the {len(fits)} families "
        f"({', '.join(fit.family for fit in fits)}) finds pages and articles there"
    )


def paper_entry(url: str, template: str, day: dt.date, fit: Fit) -> dict:
    """A papers.yaml entry for the site: what the probe could tell, and placeholders."""
    return {
        "id": suggest_id(url),
        "name": "TODO: the paper's name",
        "family": fit.family,
        "edition_url": template,
        "timezone": "Asia/Shanghai",
        "source": f"epaper probe {url} (edition {day.isoformat()}: {fit.counts})",
    }


def verdict(paper: str, family: str, day: dt.date, fits: list[Fit]) -> tuple[bool, str]:
    """Whether `paper`'s catalogued `family` still fits its edition of `day`, in one line
    naming the counts and the family that fits better, if one does."""
    if family == NO_FAMILY:  # the catalogue's `family: none`: still true?
        top = best(fits)
        if top is None:
            return True, f"{paper} fits no family on {day}, as catalogued (family: none)"
        return False, f"{paper} is catalogued family: none, yet {top.family} fits: {top.counts}"
    own = next((fit for fit in fits if fit.family == family), None)
    better = fits_better(fits, family)
    if own is not None and own.found and better is None:
        return True, f"{paper} fits {family} on {day}: {own.counts}"
    if own is None:
        found = f"{family} is no registered family"
    else:
        why = own.error or (own.missing and f"no edition: {own.missing}") or own.failed
        found = f"{family} finds {own.counts}" + (f" ({why})" if why else "")
    if better is not None:
        other = f"{better.family} fits better: {better.counts}"
    else:
        other = "no other family fits either"
    return False, f"{paper} does not fit {family} on {day}: {found}; {other}"
