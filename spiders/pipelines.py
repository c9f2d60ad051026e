"""Page PDFs through Scrapy's FilesPipeline, so they share the crawl's politeness,
robots.txt, budget and WARC capture."""

from __future__ import annotations

from pathlib import PurePosixPath

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.pipelines.files import FilesPipeline


class PagePdfPipeline(FilesPipeline):
    """Stores a page item's PDF as files/<page_no>.pdf and sets `pdf_path`
    (relative to the work folder) in place of FilesPipeline's bookkeeping fields."""

    def get_media_requests(self, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") == "page" and adapter.get("pdf_url"):
            return [Request(adapter["pdf_url"])]
        return []

    def file_path(self, request, response=None, info=None, *, item=None):
        return f"{int(item['page_no']):02d}.pdf"

    def item_completed(self, results, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") == "page":
            stored = [r["path"] for ok, r in results if ok]
            adapter["pdf_path"] = str(PurePosixPath("files", stored[0])) if stored else None
        return item
