"""Conditional re-crawls and offline replays, with WARC files as Scrapy's HTTP cache.

Scrapy's HttpCacheMiddleware asks its storage for an earlier response to each request.
WarcCacheStorage answers from the WARC files named by WARC_CACHE_FILES: an archived
crawl's WARC first, then the earlier WARCs its revisit records refer to. The archive is
thus the only cache, and nothing needs keeping between runs.

- re-crawl (`revalidate_settings`): every request still goes out, conditional on the
  earlier response's ETag / Last-Modified (RevalidatePolicy); a 304 is answered with the
  earlier response, which spiders/warc.py records as a revisit of it that replays as it.
- replay (`replay_settings`): every request is answered from the WARC and none goes out,
  so an archived edition can be cleaned again with no network.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scrapy.downloadermiddlewares.httpcache import HttpCacheMiddleware
from scrapy.extensions.httpcache import RFC2616Policy
from scrapy.utils.response import response_from_dict
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from spiders.warc import REFERS_TO, target_uri


class WarcError(RuntimeError):
    """A WARC file that cannot serve as a cache: corrupt, truncated, or incomplete."""


@dataclass(frozen=True)
class Record:
    """A response or revisit record: where it sits, and what a revisit of it names."""

    path: Path
    offset: int
    id: str
    uri: str
    date: str
    payload_digest: str | None
    refers_to: str | None  # revisits: the record that holds the payload


class WarcIndex:
    """The response records of WARC files, located by offset so bodies stay on disk.

    Requests are answered from the first file added (the crawl being revalidated or
    replayed); later files only supply the records its revisits refer to.
    """

    def __init__(self, paths: Iterable[str | Path] = ()):
        self.records: dict[str, Record] = {}
        self.answers: dict[tuple[str, str, bytes], str] = {}  # (method, uri, body) -> record id
        self.paths: list[Path] = []
        self._open: dict[Path, BinaryIO] = {}
        for path in paths:
            self.add(path)

    def add(self, path: str | Path) -> None:
        """Index one WARC file; WarcError (naming no path: callers know the file) if unsound."""
        path = Path(path)
        answers = not self.paths
        try:
            _check_gzip(path)
            count = 0
            with path.open("rb") as stream:
                records = ArchiveIterator(stream, check_digests="raise")
                for record in records:
                    count += 1
                    self._index(path, records, record, answers)
        except (OSError, EOFError, zlib.error, ArchiveLoadFailed, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WarcError(f"corrupt or truncated WARC ({reason[:200]})") from None
        if not count:
            raise WarcError("empty WARC (no records)")
        self.paths.append(path)

    def _index(self, path: Path, records: ArchiveIterator, record, answers: bool) -> None:
        headers = record.rec_headers
        if record.rec_type == "request" and answers:
            body = record.raw_stream.read()
            # The pair's response was written first; the last answer to a request wins (a retry's).
            key = (record.http_headers.protocol, headers.get_header("WARC-Target-URI"), body)
            self.answers[key] = headers.get_header("WARC-Concurrent-To")
        elif record.rec_type in ("response", "revisit"):
            record_id = headers.get_header("WARC-Record-ID")
            self.records[record_id] = Record(
                path,
                records.get_record_offset(),
                record_id,
                headers.get_header("WARC-Target-URI"),
                headers.get_header("WARC-Date"),
                headers.get_header("WARC-Payload-Digest"),
                headers.get_header("WARC-Refers-To") if record.rec_type == "revisit" else None,
            )

    def unresolved(self) -> set[str]:
        """Ids of the records that revisits refer to but no indexed file holds."""
        return {
            r.refers_to
            for r in self.records.values()
            if r.refers_to and r.refers_to not in self.records
        }

    def find(self, method: str, url: str, body: bytes = b"") -> Record | None:
        """The record holding the payload of the last response to this request."""
        record = self.records.get(self.answers.get((method, target_uri(url), body)))
        # Revisits written by spiders/warc.py refer straight to the record with the payload.
        if record is not None and record.refers_to:
            original = self.records.get(record.refers_to)
            if original is None:
                raise WarcError(
                    f"revisit of {record.uri} refers to {record.refers_to}, in no WARC given"
                )
            return original
        return record

    def load(self, record: Record) -> dict:
        """status, headers and body (as received) of a response record."""
        if record.path not in self._open:
            self._open[record.path] = record.path.open("rb")
        stream = self._open[record.path]
        stream.seek(record.offset)
        found = next(iter(ArchiveIterator(stream)))
        headers: dict[str, list[str]] = {}
        for name, value in found.http_headers.headers:
            headers.setdefault(name, []).append(value)
        return {
            "status": int(found.http_headers.get_statuscode()),
            "headers": headers,
            "body": found.raw_stream.read(),
        }

    def close(self) -> None:
        for stream in self._open.values():
            stream.close()
        self._open.clear()


def _check_gzip(path: Path) -> None:
    """Read the whole gzip stream: warcio stops quietly where a truncated file ends."""
    with gzip.open(path, "rb") as stream:
        while stream.read(1 << 20):
            pass


class WarcCacheStorage:
    """HTTPCACHE_STORAGE answering from WARC_CACHE_FILES. It stores nothing: the crawl's
    own WARC is what the next crawl of the edition revalidates against."""

    def __init__(self, settings):
        self.paths = settings.getlist("WARC_CACHE_FILES")
        self.index: WarcIndex | None = None

    def open_spider(self, spider) -> None:
        self.index = WarcIndex(self.paths)

    def close_spider(self, spider) -> None:
        self.index.close()

    def retrieve_response(self, spider, request):
        request.meta.pop(REFERS_TO, None)  # a redirect copies meta: never name another URL's record
        record = self.index.find(request.method, request.url, request.body)
        if record is None:
            return None
        loaded = self.index.load(record)
        request.meta[REFERS_TO] = {
            "id": record.id,
            "uri": record.uri,
            "date": record.date,
            "payload_digest": record.payload_digest,
            # a revisit of it replays with these, as a 304 updates them
            "status": loaded["status"],
            "headers": loaded["headers"],
        }
        return response_from_dict({"url": request.url, **loaded})

    def store_response(self, spider, request, response) -> None:
        pass


class RevalidatePolicy(RFC2616Policy):
    """Never answer from the cache without asking: every earlier response is revalidated
    (If-None-Match / If-Modified-Since) and reused only on 304. An archive records what
    the server said, so a stale copy never stands in for anything, not even a 5xx."""

    def is_cached_response_fresh(self, cachedresponse, request) -> bool:
        self._set_conditional_validators(request, cachedresponse)
        return False

    def is_cached_response_valid(self, cachedresponse, response, request) -> bool:
        return response.status == 304


class RevalidatingCacheMiddleware(HttpCacheMiddleware):
    """HttpCacheMiddleware without its error recovery: a request that fails to download
    is retried or skipped as in any crawl, not answered unseen from the earlier one."""

    def process_exception(self, request, exception):
        request.meta.pop("cached_response", None)


def revalidate_settings(warcs: list[Path]) -> dict:
    """Scrapy settings for a crawl conditional on the crawl recorded in `warcs`."""
    return {"HTTPCACHE_ENABLED": True, "WARC_CACHE_FILES": [str(p) for p in warcs]}


def replay_settings(warcs: list[Path]) -> dict:
    """Scrapy settings for a crawl answered entirely from `warcs`: no request goes out."""
    from spiders import settings as project

    return {
        **revalidate_settings(warcs),
        "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.DummyPolicy",  # every answer is fresh
        "HTTPCACHE_IGNORE_MISSING": True,  # what the WARC lacks is skipped, never fetched
        "WARC_PATH": "",  # nothing is received, so nothing to capture
        # robots.txt's Crawl-delay paces a host; a replay asks no host anything.
        "DOWNLOADER_MIDDLEWARES": {
            **project.DOWNLOADER_MIDDLEWARES,
            "spiders.middlewares.CrawlDelayMiddleware": None,
        },
    }
