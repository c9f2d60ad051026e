"""Downloader middlewares: politeness, request budget, charset repair.

They sit in the chain so spiders stay pure parsers (see spiders/settings.py for order).
"""

from __future__ import annotations

import asyncio
import re
import time
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, resolve_encoding


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
        self.paused_until: dict[str, float] = {}

    async def process_request(self, request):
        # Requests to a host that asked us to wait are held here, before the slot.
        host = urlparse_cached(request).netloc
        wait = self.paused_until.get(host, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

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
        robots = next((mw for mw in self.crawler.engine.downloader.middleware.middlewares
                       if isinstance(mw, RobotsTxtMiddleware)), None)
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


_GB = re.compile(r"^(gb2312|gbk|gb_2312-80|x-gbk|csgb2312)$", re.I)


class CharsetMiddleware:
    """Decode every page as its bytes really are.

    The spider's `encoding` argument wins outright. Otherwise: bytes that are valid
    UTF-8 are UTF-8, whatever the labels say (北京日报's meta claims gb2312 for UTF-8
    pages; GBK text is practically never valid UTF-8, while GB18030 accepts almost any
    byte string, so this test must come first). Else the first of the HTTP header and
    the meta tag that decodes the bytes cleanly, else GB18030. GBK/GB2312 labels always
    mean GB18030, the superset real pages need.
    """

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response):
        if not isinstance(response, TextResponse):
            return response
        forced = getattr(self.crawler.spider, "encoding", None)
        if forced:
            return response.replace(encoding=gb18030(forced))
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        declared = [http_content_type_encoding(content_type), html_body_declared_encoding(response.body)]
        for codec in ["utf-8", *(gb18030(e) for e in declared if e), "gb18030"]:
            if decodes(response.body, codec):
                return response.replace(encoding=codec)
        return response


def gb18030(label: str) -> str:
    label = label.strip().lower()
    return "gb18030" if _GB.match(label) else (resolve_encoding(label) or label)


def decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True
