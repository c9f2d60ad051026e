"""Downloader middlewares: politeness, request and time budgets, the paper's domain,
redirect loops, charset repair, decompression bombs.

They sit in the chain so spiders stay pure parsers (see spiders/settings.py for order).
Requests they refuse fail with an IgnoreRequest subclass, so the spider's errback
records them as skipped, with a reason (spiders/families/base.py `describe`).
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import ipaddress
import logging
import math
import re
import socket
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request, TextResponse
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.asyncio import call_later
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.python.failure import Failure
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, resolve_encoding

log = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """RetryMiddleware that waits before retrying 429/503 and pauses the whole host.

    The wait is the server's Retry-After (seconds or an HTTP date) or else an
    exponential backoff (RETRY_BACKOFF_BASE · 2^attempt). A Retry-After above
    RETRY_BACKOFF_MAX means the host wants us gone for long: give up the request.
    """

    THROTTLED = (429, 503)

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 2.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 120.0)
        self.timeout_retries = settings.getint("RETRY_TIMEOUT_TIMES", 1)
        self.paused_until: dict[str, float] = {}

    async def process_request(self, request):
        # Requests to a host that asked us to wait are held here, before the slot, but not
        # past the edition's deadline (EditionDeadlineMiddleware refuses them then).
        host = urlparse_cached(request).netloc
        wait = min(self.paused_until.get(host, 0.0) - time.monotonic(), time_left(self.crawler))
        if wait > 0:
            await asyncio.sleep(wait)

    def process_exception(self, request, exception):
        # Each timeout costs a whole DOWNLOAD_TIMEOUT: RETRY_TIMEOUT_TIMES tries more, not
        # RETRY_TIMES.
        if not isinstance(exception, DownloadTimeoutError):
            return super().process_exception(request, exception)
        timeouts = request.meta.get("timeout_retries", 0)
        if timeouts >= self.timeout_retries:
            self.crawler.stats.inc_value("retry/timeout_given_up")
            return None
        retry = super().process_exception(request, exception)
        if retry is not None:
            retry.meta["timeout_retries"] = timeouts + 1
        return retry

    def process_response(self, request, response):
        if response.status not in self.THROTTLED or request.meta.get("dont_retry"):
            return super().process_response(request, response)
        attempt = request.meta.get("retry_times", 0)
        wait = retry_after(response.headers.get(b"Retry-After"))
        if wait is None:
            wait = self.base * 2**attempt
        if wait > self.cap:
            return response
        host = urlparse_cached(request).netloc
        self.paused_until[host] = max(self.paused_until.get(host, 0.0), time.monotonic() + wait)
        self.crawler.stats.inc_value("retry/backoff_seconds", wait)
        return self._retry(request, response_status_message(response.status)) or response


def retry_after(value: bytes | None) -> float | None:
    """Seconds to wait from a Retry-After header, None if absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class CrawlDelayMiddleware:
    """Honour robots.txt's Crawl-delay: at least that long between two requests to a
    host (Scrapy reads robots.txt for Allow/Disallow only). Runs after
    RobotsTxtMiddleware, whose parsed robots.txt it reuses."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.next_slot: dict[str, float] = {}  # host -> earliest start of its next request

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request):
        robots = next(
            (
                mw
                for mw in self.crawler.engine.downloader.middleware.middlewares
                if isinstance(mw, RobotsTxtMiddleware)
            ),
            None,
        )
        if robots is None or request.meta.get("dont_obey_robotstxt"):
            return
        parser = await robots.robot_parser(request)
        agent = request.headers.get(b"User-Agent") or self.crawler.settings["USER_AGENT"]
        delay = parser.crawl_delay(agent) if parser and hasattr(parser, "crawl_delay") else None
        if not delay:
            return
        host = urlparse_cached(request).netloc
        now = time.monotonic()
        start = max(now, self.next_slot.get(host, 0.0))
        self.next_slot[host] = start + delay
        if start > now:
            await asyncio.sleep(start - now)


class BudgetExceeded(IgnoreRequest):
    """The crawl spent its request budget."""


class RequestBudgetMiddleware:
    """At most EPAPER_REQUEST_BUDGET requests per crawl (one crawl is one edition),
    retries included, so a CMS link loop cannot run away."""

    def __init__(self, crawler):
        self.budget = crawler.settings.getint("EPAPER_REQUEST_BUDGET")
        self.used = 0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        if self.used >= self.budget:
            raise BudgetExceeded(f"request budget of {self.budget} spent")
        self.used += 1


class DeadlineExceeded(BudgetExceeded):
    """The edition spent its time budget (EPAPER_EDITION_BUDGET)."""


class EditionDeadlineMiddleware:
    """At most EPAPER_EDITION_BUDGET seconds per crawl (one crawl is one edition).

    Once the time is up, every request fails with DeadlineExceeded, which the spider
    records as skipped: those not sent yet (here), those queued in a download slot behind
    a slow download or a delay (failed by the timer), and the download under way
    (DeadlineDownloadHandler cuts it). The crawl then ends on its own, with what it got.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.budget = crawler.settings.getfloat("EPAPER_EDITION_BUDGET")
        self.deadline = math.inf
        self.timer = None
        crawler.signals.connect(self.start, signal=signals.spider_opened)
        crawler.signals.connect(self.stop, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def start(self):
        self.deadline = time.monotonic() + self.budget
        self.timer = call_later(self.budget, self.expire)

    def stop(self):
        if self.timer is not None:
            self.timer.cancel()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def exceeded(self) -> DeadlineExceeded:
        self.crawler.stats.inc_value("epaper/deadline_cut")
        self.crawler.stats.set_value("epaper/deadline_budget", self.budget)
        return DeadlineExceeded(
            f"deadline: the edition's time budget of {self.budget:g} s is spent"
        )

    def process_request(self, request):
        if self.left() <= 0:
            raise self.exceeded()

    def expire(self):
        # Requests waiting in a slot would otherwise each wait out the site's delay first.
        queued = 0
        for slot in self.crawler.engine.downloader.slots.values():
            while slot.queue:
                _, waiting = slot.queue.popleft()
                waiting.errback(Failure(self.exceeded()))
                queued += 1
        log.warning(
            "edition time budget of %g s spent: %d queued requests cut", self.budget, queued
        )


def edition_deadline(crawler) -> EditionDeadlineMiddleware | None:
    middlewares = crawler.engine.downloader.middleware.middlewares if crawler.engine else ()
    return next((mw for mw in middlewares if isinstance(mw, EditionDeadlineMiddleware)), None)


def time_left(crawler) -> float:
    """Seconds before the edition's deadline (infinite without EditionDeadlineMiddleware)."""
    deadline = edition_deadline(crawler)
    return deadline.left() if deadline else math.inf


class DeadlineDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP handler, with a download that would outlive the edition's deadline
    cut there: its timeout is the time left, and hitting it is DeadlineExceeded."""

    async def download_request(self, request):
        deadline = edition_deadline(self._crawler)
        left = deadline.left() if deadline else math.inf
        if left <= 0:
            raise deadline.exceeded()
        timeout = request.meta.get("download_timeout") or self._crawler.settings.getfloat(
            "DOWNLOAD_TIMEOUT"
        )
        cut = left < timeout
        if cut:
            request.meta["download_timeout"] = left
        try:
            return await super().download_request(request)
        except DownloadTimeoutError:
            if cut:
                raise deadline.exceeded() from None
            raise


class DecompressionBomb(IgnoreRequest):
    """A compressed body that inflates past the request's size cap."""


class BoundedDecompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's HttpCompressionMiddleware (gzip, deflate, br, zstd) already stops inflating
    at the request's download_maxsize (pages: 8 MiB) or DOWNLOAD_MAXSIZE; this one says
    so in one short reason instead of Scrapy's long message."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            if not isinstance(exc.__cause__, _DecompressionMaxSizeExceeded):
                raise
            coding = b", ".join(response.headers.getlist("Content-Encoding")).decode("latin-1")
            raise DecompressionBomb(
                f"too large: a {coding} body of {len(response.body)} bytes inflates "
                f"past {exc.__cause__.max_size} bytes"
            ) from None


class Offsite(IgnoreRequest):
    """The request leaves the paper's domain."""


def site_domain(url: str) -> str:
    """The domain a paper's site lives on: the registrable domain of its edition URL's
    host (paper.people.com.cn -> people.com.cn, dzb.whb.cn -> whb.cn), or the host
    itself when it is an IP address or a single label."""
    host = (urlparse_cached(Request(url)).hostname or "").lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    # com.cn, gov.cn, sh.cn, com.hk …: the registrable domain has three labels
    second_level = (
        len(labels) >= 3
        and len(labels[-1]) == 2
        and (labels[-2] in _SECOND_LEVEL or (labels[-1] == "cn" and labels[-2] in _CN_PROVINCES))
    )
    return ".".join(labels[-3:] if second_level else labels[-2:])


_SECOND_LEVEL = {"com", "net", "org", "gov", "edu", "ac", "co", "mil"}
_CN_PROVINCES = set(
    "bj sh tj cq he sx nm ln jl hl js zj ah fj jx sd ha hb hn gd gx hi sc gz yn xz sn gs qh nx xj"
    " tw hk mo".split()
)


def on_site(host: str | None, domain: str) -> bool:
    host = (host or "").lower().rstrip(".")
    return host == domain or host.endswith("." + domain)


_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.cache
def _private_address(host: str) -> bool:
    """Whether `host` is, or resolves to, a loopback, link-local or private address."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False  # unresolvable: the download itself fails with its own reason
    ips = [ipaddress.ip_address(a.split("%")[0]) for a in addresses]  # "%": IPv6 zone
    return any(ip.is_private or ip.is_loopback or ip.is_link_local for ip in ips)


def off_site_reason(url: str, edition_url: str, domain: str) -> str | None:
    """Why `url` is not the paper's own site, or None. The site is the edition URL's
    domain, over http(s), on its port (a paper on the default port may also switch
    between 80 and 443, as http -> https redirects do), and not on a loopback or private
    address unless the paper itself is configured on one: a hostile page linking to a
    local service (the embedded S3 server's master, say) must not be fetched."""
    parts, edition = urlsplit(url), urlsplit(edition_url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return f"scheme {scheme or '(none)'} is not http(s)"
    host = (parts.hostname or "").lower().rstrip(".")
    if not on_site(host, domain):
        return f"{host} is outside {domain}"
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return f"bad port in {parts.netloc}"
    allowed = {edition.port} if edition.port else set(_DEFAULT_PORTS.values())
    if port not in allowed:
        return f"{host}:{port} is not the site's port ({', '.join(map(str, sorted(allowed)))})"
    if _private_address(host) and not _private_address(edition.hostname or ""):
        return f"{host} resolves to a local or private address"
    return None


class OffsiteMiddleware:
    """Never fetch outside the paper's own site (`off_site_reason`): links and redirects
    elsewhere fail with Offsite, which the spider records as skipped.
    (Scrapy's own OffsiteMiddleware drops such requests silently, at scheduling.)"""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request):
        spider = self.crawler.spider
        domain = getattr(spider, "site_domain", None)
        if not domain or request.meta.get("allow_offsite"):
            return
        reason = off_site_reason(request.url, spider.edition_url, domain)
        if reason:
            self.crawler.stats.inc_value("offsite/refused")
            raise Offsite(reason)


class RedirectLoop(IgnoreRequest):
    """A redirect back to a URL of the same redirect chain."""


class LoopAwareRedirectMiddleware(RedirectMiddleware):
    """RedirectMiddleware that stops a redirect loop (A -> B -> A) at once, as a failure
    the spider sees. Scrapy's own would send A again, which the duplicate filter then
    drops without a word: the article would vanish from the crawl unrecorded."""

    def process_response(self, request, response, spider=None):
        result = super().process_response(request, response)
        if isinstance(result, Request):
            chain = [*request.meta.get("redirect_urls", []), request.url]
            if result.url in chain:
                hops = [*chain[chain.index(result.url) :], result.url]
                raise RedirectLoop(" -> ".join(url_path(u) for u in hops))
        return result


def url_path(url: str) -> str:
    parts = urlparse_cached(Request(url))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


_GB = re.compile(r"^(gb2312|gbk|gb_2312-80|x-gbk|csgb2312)$", re.I)
_BINARY = re.compile(r"\s*(application/pdf|image/|audio/|video/|font/)", re.I)


class CharsetMiddleware:
    """Decode every page as its bytes really are.

    The spider's `encoding` argument wins outright. Otherwise: bytes that are valid
    UTF-8 are UTF-8, whatever the labels say (北京日报's meta claims gb2312 for UTF-8
    pages; GBK text is practically never valid UTF-8, while GB18030 accepts almost any
    byte string, so this test must come first). Else the first of the HTTP header and
    the meta tag that decodes the bytes cleanly, else GB18030. GBK/GB2312 labels always
    mean GB18030, the superset real pages need. A single-byte label (ISO-8859-1 is
    Tomcat's default header) decodes any bytes "cleanly" into mojibake: it is believed
    only when GB18030 cannot read the bytes.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        # Scrapy sniffs a page PDF's bytes as text; replace() below would then have it guess
        # their charset (charset_normalizer: up to 0.1 s a PDF) for bytes no one decodes.
        if not isinstance(response, TextResponse) or _BINARY.match(content_type):
            return response
        forced = getattr(self.crawler.spider, "encoding", None)
        if forced:
            return response.replace(encoding=gb18030(forced))
        declared = [
            gb18030(e)
            for e in (
                http_content_type_encoding(content_type),
                html_body_declared_encoding(response.body),
            )
            if e
        ]
        multi = [e for e in declared if not single_byte(e)]
        for codec in ["utf-8", *multi, "gb18030", *(e for e in declared if e not in multi)]:
            if decodes(response.body, codec):
                return response.replace(encoding=codec)
        return response


def gb18030(label: str) -> str:
    label = label.strip().lower()
    return "gb18030" if _GB.match(label) else (resolve_encoding(label) or label)


def single_byte(codec: str) -> bool:
    """Latin-1, Windows-125x, ISO-8859-x, ASCII, KOI8…: one byte, one character."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    return bool(re.match(r"(latin|iso8859|cp125\d|cp437|cp85\d|ascii|mac-|koi8|tis-620)", name))


def decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
