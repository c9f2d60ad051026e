"""The walk every e-paper family shares: edition → page list → pages → articles.

A family's selectors are data (papers.family.Walk); the spider of a family is this walk
with its family (`spiders.families.spider_class`). Pages and articles are found by following
the site's own links (the page list, each page's article list, its image-map
hotspots), never by counting node or content ids, which CMSs hand out
non-sequentially. Items follow docs/internals.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date as Date
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError

from papers.family import DEFAULT_PDFS, Family
from papers.ids import PAGE_LABEL, article_id_of_url

from ..middlewares import (
    BudgetExceeded,
    DeadlineExceeded,
    DecompressionBomb,
    Offsite,
    RedirectLoop,
    site_domain,
    url_path,
)

REDIRECTS = (301, 302, 303, 307, 308)
NO_EDITION = (403, 404, 410)
# No e-paper page comes near this; a bigger answer is a trap (EPAPER_MAX_PAGE_BYTES).
# Page PDFs and images have their own caps (spiders/pipelines.py MAX_PDF_BYTES, MAX_IMAGE_BYTES).
MAX_PAGE_BYTES = 8 * 1024 * 1024
# Links that lead nowhere by design, ignored without a record: the empty href, in-page
# anchors ("#", "#top") and scripts that do nothing (javascript:; javascript:void(0)).
NO_OP_SCRIPTS = {"", "void(0)", "void0", "void()", "returnfalse", "false", "undefined"}
# What a script link opens, if it names it: window.open('content_1.htm'), location.href='…'
SCRIPT_TARGET = re.compile(
    r"(?:https?:)?//[^\s'\"]+|\.{0,2}/[^\s'\"]*"
    r"|[\w./%-]+\.(?:s?html?|jsp|aspx?|php|json|pdf)(?:[?#][^\s'\"]*)?",
    re.IGNORECASE,
)
QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
PSEUDO = re.compile(r"^(本版|今日)?导读$|^要目$|^目录$|^本报信息|^报头|^报眼|^版面导航|^编者按$")
AD = re.compile(r"^[^，。]{0,8}广告$")
# The scanned page: the image its map is drawn on (<img usemap>), or the image beside a
# map that no usemap names (文汇报's map#newspaper of spans).
PAGE_IMAGES = ("//img[@usemap]/@src", "//map/preceding-sibling::img[1]/@src")
SHAPES = {"rectangle": "rect", "polygon": "poly"}


@dataclass
class PageRef:
    url: str
    label: str
    pdf: str | None
    no: int = 0
    name: str = ""


@dataclass
class HeldPage:
    """A page item held until its articles are in (EditionSpider.settle)."""

    page: dict
    links: list[str]  # its article requests' URLs, in link order
    done: dict[str, dict] = field(default_factory=dict)  # URL -> the item its request gave
    labels: dict[str, str] = field(default_factory=dict)  # URL -> its printed 版 label


class EditionSpider(scrapy.Spider):
    """The walk of an HTML edition, reading its selectors from the family's `Walk`."""

    def __init__(
        self,
        family: Family,
        paper: str,
        date: str,
        edition_url: str,
        encoding: str | None = None,
        **kwargs,
    ):
        super().__init__(name=family.name, **kwargs)
        self.walk = family.walk
        self.paper = paper
        self.date = Date.fromisoformat(date).isoformat()
        self.edition_url = edition_url
        self.encoding = encoding or None
        # links and redirects that leave it are never followed (middlewares.OffsiteMiddleware)
        self.site_domain = site_domain(edition_url)
        self.edition_chain: list[str] = []  # the edition URL and the redirects it took
        self.pages: dict[str, PageRef] = {}  # by URL, numbered once the page list is seen
        self.linked: set[str] = set()  # every article URL the pages link, requested once
        self.held: dict[str, HeldPage] = {}  # pages waiting for their articles' 版 label
        # where an article page prints its page's label (its family's skins)
        self.article_labels = tuple(dict.fromkeys(s.page for s in family.skins if s.page))
        self.no_edition = False
        self.unfollowed: set[str] = set()  # links already reported as not fetched
        self.unreported: list[dict] = []  # their skipped items, yet to be yielded

    # edition ------------------------------------------------------------------
    async def start(self):
        yield self.edition_request(self.edition_url)

    def edition_request(self, url: str, hops: int = 0) -> scrapy.Request:
        # Redirects and 403/404 of the edition page mean "no edition": handled here.
        self.edition_chain.append(url)
        return scrapy.Request(
            url,
            callback=self.parse_edition,
            errback=self.edition_failed,
            cb_kwargs={"hops": hops},
            meta={
                "dont_redirect": True,
                "handle_httpstatus_list": [*REDIRECTS, *NO_EDITION],
                "download_maxsize": self.max_page_bytes,
            },
        )

    @property
    def max_page_bytes(self) -> int:
        return self.settings.getint("EPAPER_MAX_PAGE_BYTES", MAX_PAGE_BYTES)

    def parse_edition(self, response, hops: int):
        if response.status in REDIRECTS:
            target = response.urljoin(response.headers.get(b"Location", b"/").decode("latin-1"))
            if target in self.edition_chain:  # the duplicate filter would drop it unsaid
                loop = " -> ".join(
                    url_path(u)
                    for u in [*self.edition_chain[self.edition_chain.index(target) :], target]
                )
                self.crawler.stats.set_value(
                    "epaper/error",
                    f"edition page failed: {self.edition_url}: redirect loop: {loop}",
                )
            elif self.is_site_root(target) or hops >= 5:
                yield self.missing(f"{response.status} to {urlsplit(target).path or '/'}")
            else:
                yield self.edition_request(target, hops + 1)
            return
        if response.status in NO_EDITION:
            yield self.missing(f"HTTP {response.status}")
            return
        yield from self.parse_page(response)

    def is_site_root(self, target: str) -> bool:
        """A redirect to the home page of a folder above the edition means no edition."""
        folder, _, leaf = (urlsplit(target).path or "/").rpartition("/")
        home_page = leaf == "" or re.fullmatch(r"(index|default)\.s?html?", leaf, re.IGNORECASE)
        return bool(home_page) and urlsplit(self.edition_url).path.startswith(folder + "/")

    def missing(self, reason: str) -> dict:
        self.no_edition = True
        return {
            "type": "missing",
            "paper": self.paper,
            "date": self.date,
            "url": self.edition_url,
            "reason": reason,
        }

    def edition_failed(self, failure):
        # The crawl could not run at all: crawl.py turns this into CrawlError.
        answered = failure.check(
            HttpError, IgnoreRequest, DownloadCancelledError, ResponseDataLossError
        )
        what = "edition page failed" if answered else "site unreachable"
        self.crawler.stats.set_value(
            "epaper/error", f"{what}: {self.edition_url}: {describe(failure)}"
        )
        return []

    # pages --------------------------------------------------------------------
    def parse_page(self, response):
        refs = self.page_list(response)
        for ref in refs:
            self.pages.setdefault(ref.url, ref)
            yield scrapy.Request(
                ref.url,
                callback=self.parse_page,
                errback=self.skip,
                meta={"download_maxsize": self.max_page_bytes},
            )
        me = (
            self.pages.get(response.url)
            or self.pages.get(response.request.url)
            or self.unlisted_page(response)
        )
        # where the page list carries PDFs, a page without one there has none; this page's
        # own list says best (unclosed tags can nest the entries and move links between them)
        own = next((r for r in refs if r.url in (response.url, response.request.url)), me)
        pdf = own.pdf if any(r.pdf for r in refs) else self.first(response, self.walk.pdf_links)
        if not pdf:  # a list too broken to tell: the page's own PDF button, never a generic guess
            pdf = self.first(response, [s for s in self.walk.pdf_links if s not in DEFAULT_PDFS])
        kind = "ad" if "广告" in me.name else "news"
        image = next(filter(None, (response.xpath(x).get("").strip() for x in PAGE_IMAGES)), None)
        item = {
            "type": "page",
            "paper": self.paper,
            "date": self.date,
            "page_no": me.no,
            "page_name": me.name,
            "url": response.url,
            "pdf_url": response.urljoin(pdf) if pdf else None,
            "image_url": resolve_link(image, response.urljoin)[0] if image else None,
            "kind": kind,
        }
        listed = {}
        for sel in self.walk.article_links:
            for a in response.css(sel):
                url = self.target(response, link_of(a))
                if url and self.may_be_article(url):
                    listed[url] = listed.get(url) or clean_text(a)
        if self.walk.article_url and self.walk.articles_anywhere:
            # whatever element holds it, a link of the article shape is one of this page's
            for a, url in self.shaped_links(response, self.is_article):
                listed[url] = listed.get(url) or clean_text(a)
        zones = self.hotspots(response)
        page = {"page_no": me.no, "page_name": me.name, "page_kind": kind, "page_url": response.url}
        # an article both listed and on the map is the list's, with the map's zone
        requests = [
            *(
                self.article_request(url, page, "list", t, zones.get(url))
                for url, t in listed.items()
            ),
            *(self.article_request(url, page, "hotspot", "", z) for url, z in zones.items()),
        ]
        requests = [r for r in requests if r]  # once per crawl, the list's first
        if requests and self.article_labels and not PAGE_LABEL.search(me.label):
            # the page lists give this page no number: its articles' own 版 label will
            self.held[response.url] = HeldPage(item, [r.url for r in requests])
        else:
            yield item
        yield from requests
        yield from self.report_unfollowed()

    def hotspots(self, response) -> dict[str, dict | None]:
        """The article URL of each image-map hotspot, in document order, with its zone
        on the page image (`zone_of`). A selector names the hotspot element and the
        attribute of its link ("map area::attr(href)")."""
        out: dict[str, dict | None] = {}
        for sel in self.walk.hotspot_links:
            element, _, attr = sel.partition("::attr(")
            for el in response.css(element):
                url = self.target(response, el.attrib.get(attr.rstrip(")")))
                if url and self.may_be_article(url) and url not in out:
                    out[url] = zone_of(el.attrib)
        return out

    def page_list(self, response) -> list[PageRef]:
        if self.walk.page_url:
            refs = self.shaped_pages(response)
            if refs:
                number_pages(refs)
                return refs
        refs = []
        for sel in self.walk.page_entries:
            for entry in response.css(sel):
                links = [(a, self.target(response, link_of(a))) for a in entry.css("a")]
                pages = [(a, url) for a, url in links if url and self.may_be_page(url)]
                if not pages:
                    continue
                pdf = next((url for _, url in links if url and is_pdf(url)), None)
                refs.append(PageRef(pages[0][1], clean_text(pages[0][0]), pdf))
            if refs:
                break
        number_pages(refs)
        return refs

    def shaped_pages(self, response) -> list[PageRef]:
        """The page list by URL shape, in document order: each page once, labelled by the
        link that carries a 版 label (a "下一版" link does not), its PDF the one beside it."""
        for sel in self.walk.page_entries:  # the hints report the page list's odd links
            for a in response.css(sel).css("a"):
                self.target(response, link_of(a))
        refs: dict[str, PageRef] = {}
        for a, url in self.shaped_links(response, self.is_page):
            label = clean_text(a) or (a.attrib.get("title") or "").strip()
            ref = refs.get(url)
            if ref is None:
                refs[url] = PageRef(url, label, self.pdf_beside(response, a, url))
            elif PAGE_LABEL.search(label) and not PAGE_LABEL.search(ref.label):
                ref.label = label
            if ref is not None and not ref.pdf:
                ref.pdf = self.pdf_beside(response, a, url)
        return list(refs.values())

    def pdf_beside(self, response, a, page: str) -> str | None:
        """The PDF link in the nearest element around `a`, or right after it (<dt> page,
        <dd> PDF), that links no other page."""
        for around in reversed(a.xpath("ancestor-or-self::*[position() <= 4]")):
            for where in (around, *around.xpath("following-sibling::*[1]")):
                urls = [resolve_link(link_of(x) or "", response.urljoin)[0] for x in where.css("a")]
                if any(u and u != page and self.is_page(u) for u in urls):
                    if where is around:
                        return None
                    continue
                pdf = next((u for u in urls if u and is_pdf(u)), None)
                if pdf:
                    return pdf
        return None

    def shaped_links(self, response, shape):
        """(element, URL) of every link in the page whose URL has `shape`, in document
        order; links that lead elsewhere are reported by the selectors' pass."""
        for a in response.xpath("//a[not(ancestor::map)]"):  # a map's links are hotspots
            url, _ = resolve_link(link_of(a) or "", response.urljoin)
            if url and shape(url):
                yield a, url

    # A selector's link may have any shape but the other kind's; a link found by its shape
    # alone must have its own kind's.
    def may_be_page(self, url: str) -> bool:
        return not is_pdf(url) and not has_shape(url, self.walk.article_url)

    def may_be_article(self, url: str) -> bool:
        return not has_shape(url, self.walk.page_url)

    def is_page(self, url: str) -> bool:
        return has_shape(url, self.walk.page_url) and self.may_be_page(url)

    def is_article(self, url: str) -> bool:
        return has_shape(url, self.walk.article_url) and self.may_be_article(url)

    # links --------------------------------------------------------------------
    def target(self, response, href: str | None) -> str | None:
        """The absolute URL a link leads to, or None. A link that names something not
        fetched (mailto:, a script without a URL) is reported once as skipped; one that
        leads nowhere by design (`NO_OP_SCRIPTS`, "#") is ignored."""
        url, reason = resolve_link(href or "", response.urljoin)
        if reason and href not in self.unfollowed:
            self.unfollowed.add(href)
            self.crawler.stats.inc_value(f"skipped/{reason.split(':')[0]}")
            self.unreported.append({"type": "skipped", "url": href, "reason": reason})
        return url

    def report_unfollowed(self):
        while self.unreported:
            yield self.unreported.pop(0)

    def unlisted_page(self, response) -> PageRef:
        label = self.first(response, self.walk.current_page) or ""
        ref = PageRef(response.url, label, None)
        number_pages([ref])
        return ref

    # articles -----------------------------------------------------------------
    def article_request(
        self, url: str, page: dict, via: str, list_title: str, zone: dict | None = None
    ) -> scrapy.Request | None:
        """The request of an article, or None when it has one: the first page and list that
        link it have it (the duplicate filter would drop a second request unsaid)."""
        if url in self.linked:
            return None
        self.linked.add(url)
        self.crawler.stats.set_value("epaper/articles_linked", len(self.linked))
        return scrapy.Request(
            url,
            callback=self.parse_article,
            errback=self.skip,
            cb_kwargs={**page, "via": via, "list_title": list_title, "zone": zone},
            meta={"download_maxsize": self.max_page_bytes},
        )

    def parse_article(
        self, response, page_no, page_name, page_kind, via, list_title, zone, page_url=None
    ):
        title = list_title or self.headline(response) or ""
        item = {
            "type": "article",
            "paper": self.paper,
            "date": self.date,
            "family": self.name,
            "page_no": page_no,
            "page_name": page_name,
            "url": response.url,
            "article_id": article_id_of_url(response.url),
            "html": response.text,
            "content_type": response.headers.get(b"Content-Type", b"").decode("latin-1"),
            "via": via,
            "kind": classify(title, page_kind),
            "list_title": list_title,
            "zone": zone,
        }
        held = self.held.get(page_url)
        if held is None:
            yield item
            return
        link = (response.request.meta.get("redirect_urls") or [response.request.url])[0]
        held.labels[link] = self.article_page_label(response)
        yield from self.settle(held, link, item)

    def article_page_label(self, response) -> str:
        """The "第02版：综合" an article page prints (its skins' `page`), or ""."""
        for sel in self.article_labels:
            label = clean_text(response.css(sel))
            if PAGE_LABEL.search(label):
                return label
        return ""

    def settle(self, held: HeldPage, link: str, item: dict):
        """Hold what `link`'s request gave; once every article of the page is in, the page
        is numbered and named by the first of them (in link order) that prints its 版 label,
        and the page, its articles and their skips are yielded. Link order, not arrival:
        the same site gives the same items however the requests interleave."""
        held.done[link] = item
        if len(held.done) < len(held.links):
            return
        page = held.page
        del self.held[page["url"]]
        label = next((held.labels[u] for u in held.links if held.labels.get(u)), "")
        if m := PAGE_LABEL.search(label):
            page["page_name"] = m["name"].strip()
            page["kind"] = "ad" if "广告" in page["page_name"] else "news"
            if not (m["prefix"] or m["suffix"]):  # A01版 numbers a page within its section
                page["page_no"] = int(m["number"])
        yield page
        for url in held.links:
            done = held.done[url]
            if done["type"] == "article":
                done.update(page_no=page["page_no"], page_name=page["page_name"])
                done["kind"] = "ad" if page["kind"] == "ad" else done["kind"]
            yield done

    def headline(self, response) -> str | None:
        """The headline an article prints, for one reached without a list title (hotspots)."""
        return self.first(response, self.walk.article_title)

    def closed(self, reason):
        # An edition page that links no article is not this family's (or not an edition):
        # archiving it as an empty edition would hide the misconfiguration.
        stats = self.crawler.stats
        if not (self.no_edition or self.linked or stats.get_value("epaper/error")):
            stats.set_value(
                "epaper/error",
                f"no pages or articles found at {self.edition_url} "
                f"(not a {self.name} edition page?)",
            )

    # failures -----------------------------------------------------------------
    def skip(self, failure):
        reason = describe(failure)
        key = reason.split(":")[0].replace(" ", "_")
        self.crawler.stats.inc_value(f"skipped/{key}")
        # the URL the site linked, not where its redirects ended
        url = (failure.request.meta.get("redirect_urls") or [failure.request.url])[0]
        skipped = {"type": "skipped", "url": url, "reason": reason}
        held = self.held.get(failure.request.cb_kwargs.get("page_url"))
        if held is None:
            yield skipped
        else:
            yield from self.settle(held, url, skipped)

    # helpers ------------------------------------------------------------------
    @staticmethod
    def first(response, selectors) -> str | None:
        for sel in selectors:
            for value in response.css(sel).getall():
                if value.strip():
                    return value.strip()
        return None


def number_pages(refs: list[PageRef]) -> None:
    """Page numbers from labels ("第03版"); by list position where labels repeat
    numbers (lettered sections: A01 … B01) or carry none."""
    parsed = [PAGE_LABEL.search(r.label) for r in refs]
    numbers = [int(m["number"]) if m else None for m in parsed]
    by_label = None not in numbers and len(set(numbers)) == len(numbers)
    for i, (ref, m) in enumerate(zip(refs, parsed)):
        ref.no = numbers[i] if by_label else i + 1
        ref.name = (m["name"] if m else ref.label).strip()


def zone_of(attrs) -> dict | None:
    """A hotspot's zone on the page image: {"shape": "rect"|"poly", "coords": [ints]} from
    an <area>'s shape and coords (or a data-coords), None where it has none that fits.
    Without a shape, four numbers are a rectangle (HTML's default), more a polygon."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", attrs.get("coords") or attrs.get("data-coords") or "")
    coords = [round(float(n)) for n in numbers]
    shape = (attrs.get("shape") or "").strip().lower()
    shape = SHAPES.get(shape, shape) if shape else ("rect" if len(coords) == 4 else "poly")
    if shape == "rect" and len(coords) == 4:
        return {"shape": "rect", "coords": coords}
    if shape == "poly" and len(coords) >= 6 and len(coords) % 2 == 0:
        return {"shape": "poly", "coords": coords}
    return None  # circles, "default", coords that do not fit their shape


def classify(title: str, page_kind: str) -> str:
    title = re.sub(r"\s+", "", title)
    if page_kind == "ad" or AD.match(title):
        return "ad"
    return "pseudo" if PSEUDO.match(title) else "news"


def link_of(a) -> str | None:
    """The link of an <a>: its href, or where that leads nowhere by design, its data-href
    (script-driven skins keep the target there) or an alt that names a URL (潍坊晚报)."""
    for attr in ("href", "data-href", "alt"):
        href = (a.attrib.get(attr) or "").strip()
        if attr == "alt" and not SCRIPT_TARGET.fullmatch(href):
            continue
        if not leads_nowhere(href):
            return href
    return None


def leads_nowhere(href: str) -> bool:
    href = href.strip()
    if href.lower().startswith("javascript:"):
        return re.sub(r"[\s;]", "", href[len("javascript:") :]).lower() in NO_OP_SCRIPTS
    return href == "" or href.startswith("#")


def resolve_link(href: str, join) -> tuple[str | None, str | None]:
    """(absolute URL to fetch, None), (None, why it is not fetched) or (None, None) for a
    link that leads nowhere by design; `join` makes a URL absolute (the response's urljoin,
    which heeds <base>). A script link is followed to the page it opens."""
    href = href.strip()
    if leads_nowhere(href):
        return None, None
    scheme = urlsplit(href).scheme.lower()
    if scheme == "javascript":
        quoted = (one or other for one, other in QUOTED.findall(href))
        inside = next((q for q in quoted if SCRIPT_TARGET.fullmatch(q)), None)
        if inside is None:
            return None, "script: a javascript link that names no URL"
        return resolve_link(inside, join)
    if scheme and scheme not in ("http", "https"):
        return None, f"scheme: {scheme} links are not fetched"
    return join(href), None


def has_shape(url: str, shape: str) -> bool:
    """Whether `url`'s path has a family's URL shape (a Walk's page_url, article_url)."""
    return bool(shape) and re.search(shape, urlsplit(url).path) is not None


def is_pdf(href: str) -> bool:
    return urlsplit(href).path.lower().endswith(".pdf")


def clean_text(sel) -> str:
    return re.sub(r"\s+", " ", " ".join(sel.css("::text").getall())).strip()


def describe(failure) -> str:
    """One line for a failed request, its kind first: 'robots: …', 'budget: …', 'http 404',
    'timeout', 'connection refused', 'connection lost', 'truncated: …', 'too large: …',
    'redirect loop: …', 'redirects: …', 'offsite: …'. The kind is the stats key."""
    exc = failure.value
    if isinstance(exc, (DeadlineExceeded, DecompressionBomb)):  # their message opens with the kind
        return str(exc)
    if isinstance(exc, BudgetExceeded):
        return f"budget: {exc}"
    if isinstance(exc, HttpError):
        return f"http {exc.response.status}"
    if isinstance(exc, Offsite):
        return f"offsite: {exc}"
    if isinstance(exc, RedirectLoop):
        return f"redirect loop: {exc}"
    if isinstance(exc, IgnoreRequest):
        if "robots" in str(exc):
            return "robots: forbidden by robots.txt"
        if "max redirections" in str(exc):
            return "redirects: too many in a row"
        return f"ignored: {exc}"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, CannotResolveHostError):
        return "dns lookup failed"
    if isinstance(exc, DownloadTimeoutError):
        return "timeout"
    if isinstance(exc, ResponseDataLossError):
        return "truncated: the body ended before its Content-Length"
    if isinstance(exc, DownloadCancelledError):  # over download_maxsize, or cancelled
        limit = failure.request.meta.get("download_maxsize") if failure.request else None
        return f"too large: over {limit} bytes" if limit else "too large"
    if isinstance(exc, DownloadFailedError):
        return "connection lost"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
