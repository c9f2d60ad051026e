"""WARC 1.1 capture of every request/response pair of a crawl.

Registered at 950, next to the downloader, so it sees each response before
HttpCompressionMiddleware (590) decompresses it: the WARC holds the payload as
the server sent it. It also sees a 304 before the HTTP cache (900) swaps in the
earlier response, and records it as a `revisit` (profile server-not-modified)
that refers to the record holding that response: a re-crawl of an unchanged
edition gives a small WARC that is still complete by reference.
"""

from __future__ import annotations

from http import HTTPStatus
from io import BytesIO
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# Twisted hands over a de-chunked body; keeping these would misdescribe it.
_HOP_BY_HOP = {b"transfer-encoding", b"connection", b"keep-alive"}
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# request.meta key: the record of the earlier response a conditional request revalidates
# (set by spiders.httpcache.WarcCacheStorage): id, uri, date, payload_digest.
REFERS_TO = "warc_refers_to"


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
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

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
                http_headers=http_headers,
                warc_headers_dict=_revisit_headers(original),
            )
        else:
            warc_response = self._writer.create_warc_record(
                target, "response", payload=BytesIO(response.body), http_headers=http_headers
            )
        self._writer.write_request_response_pair(warc_request, warc_response)
        self.records += 2

    def close(self, spider=None) -> None:
        self._file.close()


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
