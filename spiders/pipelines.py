"""Page PDFs through Scrapy's FilesPipeline, so they share the crawl's politeness,
robots.txt, budget and WARC capture."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import FileException

from papers.workdir import Workdir

# E-paper page PDFs are some MiB; a bigger one is a trap (a crawl took 1 GB on one) and is
# skipped as "too large" (EPAPER_MAX_PDF_BYTES, a Scrapy setting or the environment).
MAX_PDF_BYTES = 64 * 1024 * 1024


class PagePdfPipeline(FilesPipeline):
    """Stores a page item's PDF as files/<page_no>.pdf and sets `pdf_path`
    (relative to the work folder) in place of FilesPipeline's bookkeeping fields.

    A PDF that cannot be fetched leaves `pdf_path` null and is reported like any other
    failed request: a `skipped` item with its reason, counted in the stats."""

    def open_spider(self, spider=None):
        super().open_spider()
        self.failures: dict[str, str] = {}  # PDF URL -> why it could not be fetched
        default = int(os.environ.get("EPAPER_MAX_PDF_BYTES") or MAX_PDF_BYTES)
        self.max_pdf_bytes = self.crawler.settings.getint("EPAPER_MAX_PDF_BYTES", default)

    def get_media_requests(self, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") == "page" and adapter.get("pdf_url"):
            return [Request(adapter["pdf_url"], meta={"download_maxsize": self.max_pdf_bytes})]
        return []

    def file_path(self, request, response=None, info=None, *, item=None):
        return f"{int(item['page_no']):02d}.pdf"

    def media_failed(self, failure, request, info):
        from spiders.families.base import describe

        failure.request = (
            request  # as on a spider's errback: describe reads the size cap from its meta
        )
        self.failures.setdefault(request.url, describe(failure))  # media_downloaded may know better
        return super().media_failed(failure, request, info)

    async def media_downloaded(self, response, request, info, *, item=None):
        try:
            return await super().media_downloaded(response, request, info, item=item)
        except FileException:
            self.failures[request.url] = (
                f"http {response.status}" if response.status != 200 else "empty PDF"
            )
            raise

    def item_completed(self, results, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") == "page":
            stored = [r["path"] for ok, r in results if ok]
            adapter["pdf_path"] = str(PurePosixPath(Workdir.FILES, stored[0])) if stored else None
        return item

    async def process_item(self, item, spider=None):
        item = await super().process_item(item)
        adapter = ItemAdapter(item)
        if adapter.get("type") == "page" and adapter.get("pdf_url") and not adapter.get("pdf_path"):
            url = adapter["pdf_url"]
            reason = self.failures.pop(url, "download failed")
            self.crawler.stats.inc_value(f"skipped/{reason.split(':')[0].replace(' ', '_')}")
            skipped = {"type": "skipped", "url": url, "reason": reason}
            await self.crawler.engine.scraper.start_itemproc_async(skipped, response=None)
        return item
