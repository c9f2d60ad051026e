"""WARC 1.1 capture of every request/response pair of a crawl.

Registered at 950, next to the downloader, so it sees each response before
HttpCompressionMiddleware (590) decompresses it: the WARC holds the payload as
the server sent it. It also sees a 304 before the HTTP cache (900) swaps in the
earlier response, and records it as a `revisit` (profile server-not-modified)
that refers to the record holding that response: a re-crawl of an unchanged
edition gives a small WARC that is still complete by reference.

A revisit replays as the page it stands for: its block holds the earlier response's
status line and headers as the 304 updated them (RFC 9111 4.3.4), since replay tools
serve a revisit's own status (pywb answers a 3xx one with an empty body), and it
carries the earlier payload's digest, by which pywb finds the original in the index.
The 304 itself, as received, is kept in a `metadata` record beside the revisit.
A `warcinfo` record opens every file: software, format, the paper, the edition, robots.
"""

from __future__ import annotations

from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from io import BytesIO
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Twisted hands over a de-chunked body; keeping these would misdescribe it.
_HOP_BY_HOP = {b"transfer-encoding", b"connection", b"keep-alive"}
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
WARC_1_1 = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# request.meta key: the record of the earlier response a conditional request revalidates
# (set by spiders.httpcache.WarcCacheStorage): id, uri, date, payload_digest, and its
# HTTP status and headers (name -> [values]).
REFERS_TO = "warc_refers_to"
# What a 304 says of the payload cannot change it: these stay the earlier response's.
_PAYLOAD_FIELDS = {"content-length", "content-encoding", "content-range"} | {
    name.decode() for name in _HOP_BY_HOP
}


def target_uri(url: str) -> str:
    """WARC-Target-URI of a request URL: the fragment never reaches the server."""
    return urlsplit(url)._replace(fragment="").geturl()


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        if name.lower() not in _HOP_BY_HOP
        for value in values
    ]


class WarcCaptureMiddleware:
    def __init__(self, path: str):
        self._file = open(path, "wb")
        self._writer = WARCWriter(self._file, gzip=True, warc_version="1.1")
        self.records = 0

    @classmethod
    def from_crawler(cls, crawler):
        path = crawler.settings.get("WARC_PATH")
        if not path:
            raise NotConfigured("WARC_PATH not set")
        middleware = cls(path)
        crawler.signals.connect(middleware.open, signal=signals.spider_opened)
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def open(self, spider) -> None:
        """The warcinfo record, before any exchange is written."""
        settings = spider.crawler.settings
        info = warcinfo_fields(
            spider.paper,
            spider.date,
            robots="obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
            user_agent=settings.get("USER_AGENT"),
        )
        self._writer.write_record(self._writer.create_warcinfo_record("", info))
        self.records += 1

    def process_response(self, request, response, spider=None):
        # A response the HTTP cache answered from an earlier WARC was not received now.
        if "cached" not in response.flags:
            self._write_pair(request, response)
        return response

    def _write_pair(self, request, response) -> None:
        url = urlsplit(request.url)
        target = target_uri(request.url)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        request_headers = _header_pairs(request.headers)
        if not any(name.lower() == "host" for name, _ in request_headers):
            request_headers.insert(0, ("Host", url.netloc))
        warc_request = self._writer.create_warc_record(
            target,
            "request",
            payload=BytesIO(request.body or b""),
            http_headers=StatusAndHeaders(
                f"{request.method} {path} HTTP/1.1", request_headers, is_http_request=True
            ),
        )
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        http_headers = StatusAndHeaders(
            f"{response.status} {reason}".strip(),
            _header_pairs(response.headers),
            protocol="HTTP/1.1",
        )
        original = request.meta.get(REFERS_TO) if response.status == 304 else None
        if original:
            warc_response = self._writer.create_warc_record(
                target,
                "revisit",
                http_headers=_revalidated(original, http_headers),
                warc_headers_dict=_revisit_headers(original),
            )
        else:
            warc_response = self._writer.create_warc_record(
                target, "response", payload=BytesIO(response.body), http_headers=http_headers
            )
        self._writer.write_request_response_pair(warc_request, warc_response)
        self.records += 2
        if original:
            self._write_not_modified(target, warc_response, http_headers)

    def _write_not_modified(self, target: str, revisit, received: StatusAndHeaders) -> None:
        """The 304 as received, as warc-fields (which indexers leave out of the index)."""
        fields = f"HTTP-Status: {received.protocol} {received.statusline}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in received.headers
        )
        revisit_id = revisit.rec_headers.get_header("WARC-Record-ID")
        record = self._writer.create_warc_record(
            target,
            "metadata",
            payload=BytesIO(fields.encode("latin-1")),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Refers-To": revisit_id, "WARC-Concurrent-To": revisit_id},
        )
        self._writer.write_record(record)
        self.records += 1

    def close(self, spider=None) -> None:
        self._file.close()


def software() -> str:
    """This crawler and the libraries that write its WARCs, with their versions."""

    def named(package: str) -> str:
        try:
            return f"{package}/{version(package)}"
        except PackageNotFoundError:  # run from a checkout that was never installed
            return package

    return " ".join(named(p) for p in ("epaper-archive", "Scrapy", "warcio"))


def warcinfo_fields(paper: str, day: str, robots: str, user_agent: str | None) -> dict:
    """The fields of the warcinfo record that opens a crawl's WARC (WARC 1.1, annex)."""
    return {
        "software": software(),
        "format": "WARC File Format 1.1",
        "conformsTo": WARC_1_1,
        "isPartOf": f"{paper}/{day}",
        "description": f"e-paper edition {day} of {paper}",
        "paper": paper,
        "edition-date": day,
        "robots": robots,
        "http-header-user-agent": user_agent,
    }


def _revalidated(original: dict, received: StatusAndHeaders) -> StatusAndHeaders:
    """The earlier response's status and headers, updated by a 304's (RFC 9111 4.3.4)."""
    status = original["status"]
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    updated = {name.lower() for name, _ in received.headers} - _PAYLOAD_FIELDS
    kept = [
        (name, value)
        for name, values in original["headers"].items()
        if name.lower() not in updated
        for value in values
    ]
    fresh = [(name, value) for name, value in received.headers if name.lower() in updated]
    return StatusAndHeaders(f"{status} {reason}".strip(), kept + fresh, protocol="HTTP/1.1")


def _revisit_headers(original: dict) -> dict[str, str]:
    headers = {
        "WARC-Profile": SERVER_NOT_MODIFIED,
        "WARC-Refers-To": original["id"],
        "WARC-Refers-To-Target-URI": original["uri"],
        "WARC-Refers-To-Date": original["date"],
    }
    if original.get("payload_digest"):  # the payload this revisit stands for
        headers["WARC-Payload-Digest"] = original["payload_digest"]
    return headers
