"""Scrapy settings shared by every family spider: polite by default.

`spiders.crawl` adds the per-crawl paths (FEEDS, FILES_STORE, WARC_PATH); the delay
and the User-Agent come from the environment so a site operator's wishes, or a test's
local replica, can change them without code.
"""

import os

BOT_NAME = "epaper"
# No SPIDER_MODULES: spiders.crawl builds a family's spider from papers.family's registry.

# A browser-like agent: several e-paper hosts answer 403 to crawler agents.
USER_AGENT = os.environ.get(
    "EPAPER_USER_AGENT",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
)
ROBOTSTXT_OBEY = True

# One request at a time per host, a pause between them, and AutoThrottle to back off
# further when the host slows down (it never goes below DOWNLOAD_DELAY).
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = float(os.environ.get("EPAPER_DOWNLOAD_DELAY", "1.0"))
# A delay of 0 turns politeness off (our own replica, tests, benches): AutoThrottle would
# still wait about one response time between two requests. Without a delay Scrapy 2.19
# also sends a host's queued requests at once, past CONCURRENT_REQUESTS_PER_DOMAIN.
AUTOTHROTTLE_ENABLED = DOWNLOAD_DELAY > 0
AUTOTHROTTLE_START_DELAY = (
    DOWNLOAD_DELAY  # Scrapy's default start (5 s) would dominate a short crawl
)
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0


def _seconds(name: str, default: str) -> float:
    value = os.environ.get(name, default)
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"{name} must be a number of seconds above 0, not {value!r}")
    return seconds


# Scrapy's timeout covers the whole download, first byte to last: an article page is a few
# KB, a page PDF a few MB. A site that trickles a byte every few seconds is cut after this.
DOWNLOAD_TIMEOUT = _seconds("EPAPER_DOWNLOAD_TIMEOUT", "30")
# What a compressed body may inflate to, as well as what may come over the wire
# (HttpCompressionMiddleware stops inflating there): this is for page PDFs; pages have
# their own, smaller cap (families/base.py MAX_PAGE_BYTES). Scrapy's 1 GiB would let a
# gzip bomb of 1 MB take 2 GiB of memory (the body, then its copy).
DOWNLOAD_MAXSIZE = 256 * 1024 * 1024
# Wall-clock seconds one crawl (= one edition) may take: past it, what is not fetched yet
# is skipped as "deadline" and the edition is marked incomplete (spiders/crawl.py).
EPAPER_EDITION_BUDGET = _seconds("EPAPER_EDITION_BUDGET", "900")

# 429/503 are retried by BackoffRetryMiddleware, which waits (Retry-After or
# exponential backoff) and pauses the whole host meanwhile.
RETRY_TIMES = 4
# A timed-out request costs a whole DOWNLOAD_TIMEOUT: one more try, not RETRY_TIMES.
RETRY_TIMEOUT_TIMES = 1
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 2.0  # seconds; doubled at each retry
RETRY_BACKOFF_MAX = 120.0  # a Retry-After longer than this gives up on the request

# A link loop in a CMS must not run away: requests per crawl (= per edition).
EPAPER_REQUEST_BUDGET = int(os.environ.get("EPAPER_REQUEST_BUDGET", "3000"))

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    # after the backoff's wait, before the slot's
    "spiders.middlewares.EditionDeadlineMiddleware": 560,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "spiders.middlewares.BoundedDecompressionMiddleware": 590,
    # robots.txt's Crawl-delay, after RobotsTxtMiddleware (100)
    "spiders.middlewares.CrawlDelayMiddleware": 110,
    "spiders.middlewares.RequestBudgetMiddleware": 120,  # after robots.txt: only real fetches count
    # never leave the paper's domain, by link or redirect
    "spiders.middlewares.OffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    # a redirect loop is a failure, not a silent drop
    "spiders.middlewares.LoopAwareRedirectMiddleware": 600,
    "spiders.middlewares.CharsetMiddleware": 580,
    "spiders.warc.WarcCaptureMiddleware": 950,
    # Re-crawls revalidate what the archived crawl fetched (spiders/httpcache.py; the fetch
    # step turns the cache on). Stats sit above the cache so that they count what came over
    # the wire (a 304), not the archived page the cache hands on in its place.
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
    "spiders.httpcache.RevalidatingCacheMiddleware": 900,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 920,
}
# Downloads under way when the edition's time is up end there (EditionDeadlineMiddleware).
DOWNLOAD_HANDLERS = {
    "http": "spiders.middlewares.DeadlineDownloadHandler",
    "https": "spiders.middlewares.DeadlineDownloadHandler",
}
HTTPCACHE_POLICY = "spiders.httpcache.RevalidatePolicy"
HTTPCACHE_STORAGE = "spiders.httpcache.WarcCacheStorage"
ITEM_PIPELINES = {"spiders.pipelines.PageFilesPipeline": 100}
FILES_URLS_FIELD = "file_urls"
FILES_RESULT_FIELD = "files"
MEDIA_ALLOW_REDIRECTS = True

FEED_EXPORT_ENCODING = "utf-8"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = os.environ.get("EPAPER_LOG_LEVEL", "INFO")
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control runs any Python code POSTed to a local port, inside the
# crawl that parses hostile pages, with its bearer token in a file: never wanted here.
REMOTE_CONTROL_ENABLED = False
