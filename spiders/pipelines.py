"""Page PDFs and page images through Scrapy's FilesPipeline, so they share the crawl's
politeness, robots.txt, budget and WARC capture."""

from __future__ import annotations

import os
import struct
from pathlib import PurePosixPath

from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.pipelines.files import FilesPipeline
from scrapy.pipelines.media import FileException

from papers.workdir import Workdir

# E-paper page PDFs are some MiB; a bigger one is a trap (a crawl took 1 GB on one) and is
# skipped as "too large" (EPAPER_MAX_PDF_BYTES, a Scrapy setting or the environment).
MAX_PDF_BYTES = 64 * 1024 * 1024
# A scanned page image is a few MiB (EPAPER_MAX_IMAGE_BYTES likewise).
MAX_IMAGE_BYTES = 32 * 1024 * 1024

# What a page item fetches: (URL field, path field, size cap setting, its default).
PAGE_FILES = (
    ("pdf_url", "pdf_path", "EPAPER_MAX_PDF_BYTES", MAX_PDF_BYTES),
    ("image_url", "image_path", "EPAPER_MAX_IMAGE_BYTES", MAX_IMAGE_BYTES),
)
# Where a JPEG's frame size is found: after its EXIF and other segments (64 KiB at most each)
HEADER_BYTES = 256 * 1024
# Image formats by their first bytes: the stored file's extension.
IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_format(head: bytes) -> str | None:
    """An image's extension ("jpg", "png", "gif") from its first bytes; None for others."""
    return next((ext for magic, ext in IMAGE_MAGIC if head.startswith(magic)), None)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG, PNG or GIF header, None when it does not tell."""
    fmt = image_format(data)
    if fmt == "png" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if fmt == "gif" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if fmt != "jpg":
        return None
    i = 2
    while i + 9 <= len(data) and data[i] == 0xFF:
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        # SOF0…SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


class PageFilesPipeline(FilesPipeline):
    """Stores a page item's PDF as files/<page_no>.pdf and its scanned image as
    files/<page_no>.<jpg|png|gif>, and sets `pdf_path` and `image_path` (relative to the
    work folder), and the image's `width` and `height` when its header tells them, in place
    of FilesPipeline's bookkeeping fields.

    A file that cannot be fetched (or an "image" that is none) leaves its path null and is
    reported like any other failed request: a `skipped` item with its reason, counted in
    the stats. The page is kept either way."""

    def open_spider(self, spider=None):
        super().open_spider()
        self.failures: dict[str, str] = {}  # file URL -> why it could not be fetched
        self.caps = {
            setting: self.crawler.settings.getint(setting, int(os.environ.get(setting) or default))
            for _, _, setting, default in PAGE_FILES
        }

    def get_media_requests(self, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") != "page":
            return []
        return [
            Request(
                adapter[url_field],
                meta={"download_maxsize": self.caps[setting], "epaper_file": path_field},
            )
            for url_field, path_field, setting, _ in PAGE_FILES
            if adapter.get(url_field)
        ]

    def file_path(self, request, response=None, info=None, *, item=None):
        if request.meta.get("epaper_file") == "image_path":
            ext = image_format(response.body[:16]) if response is not None else None
            return f"{int(item['page_no']):02d}.{ext or 'img'}"
        return f"{int(item['page_no']):02d}.pdf"

    def media_failed(self, failure, request, info):
        from spiders.families.base import describe

        failure.request = (
            request  # as on a spider's errback: describe reads the size cap from its meta
        )
        self.failures.setdefault(request.url, describe(failure))  # media_downloaded may know better
        return super().media_failed(failure, request, info)

    async def media_downloaded(self, response, request, info, *, item=None):
        if (
            request.meta.get("epaper_file") == "image_path"
            and response.status == 200
            and not image_format(response.body[:16])
        ):
            kind = response.headers.get(b"Content-Type", b"").decode("latin-1") or "no type"
            self.failures[request.url] = f"not an image: {kind.split(';')[0]}"
            raise FileException(self.failures[request.url])
        try:
            return await super().media_downloaded(response, request, info, item=item)
        except FileException:
            empty = "empty PDF" if request.meta.get("epaper_file") == "pdf_path" else "empty image"
            self.failures[request.url] = (
                f"http {response.status}" if response.status != 200 else empty
            )
            raise

    def item_completed(self, results, item, info):
        adapter = ItemAdapter(item)
        if adapter.get("type") != "page":
            return item
        fetched = iter(results)  # one result per request, in get_media_requests' order
        stored = {}
        for url_field, path_field, _, _ in PAGE_FILES:
            ok, result = next(fetched) if adapter.get(url_field) else (False, None)
            stored[path_field] = result["path"] if ok else None
            adapter[path_field] = str(PurePosixPath(Workdir.FILES, result["path"])) if ok else None
        size = None
        if stored["image_path"]:
            with open(os.path.join(self.store.basedir, stored["image_path"]), "rb") as f:
                size = image_size(f.read(HEADER_BYTES))
        adapter["width"], adapter["height"] = size or (None, None)
        return item

    async def process_item(self, item, spider=None):
        item = await super().process_item(item)
        adapter = ItemAdapter(item)
        if adapter.get("type") != "page":
            return item
        for url_field, path_field, _, _ in PAGE_FILES:
            url = adapter.get(url_field)
            if url and not adapter.get(path_field):
                reason = self.failures.pop(url, "download failed")
                self.crawler.stats.inc_value(f"skipped/{reason.split(':')[0].replace(' ', '_')}")
                skipped = {"type": "skipped", "url": url, "reason": reason}
                await self.crawler.engine.scraper.start_itemproc_async(skipped, response=None)
        return item
