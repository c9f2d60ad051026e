"""Compressed-body bombs: an article or a page PDF sent gzip-, deflate- or brotli-encoded
(Content-Encoding) that inflates to 2 GiB from a body of a few KB to 2 MB.

Scrapy's HttpCompressionMiddleware inflates 64 KiB at a time and stops at the request's
size cap (pages: 8 MiB, families/base.py MAX_PAGE_BYTES; page PDFs: 64 MiB,
spiders/pipelines.py MAX_PDF_BYTES), so the crawl stays bounded; the article is skipped as
too large, the rest archived.
Honest encodings are decoded, brotli too (the brotli package is in requirements.lock).
"""

from __future__ import annotations

import gzip
import json
import resource
import struct
import zlib
from datetime import date

import brotli
import pytest

from replica import ReplicaServer, build_site
from spiders.crawl import run_crawl
from spiders.families.base import MAX_PAGE_BYTES
from tests.fixtures.replica import rel

DAY = date(2025, 4, 28)
CHUNK = bytes(16 << 20)
CHUNKS = 128  # 2 GiB of zeros
GiB = 1 << 30


def raw_deflate_bomb() -> bytes:
    # After a full flush the compressor starts afresh: every 16 MiB of zeros is the same block.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(CHUNK) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * CHUNKS + b"\x03\x00"  # an empty final block


def checksums() -> tuple[int, int]:
    crc, adler = 0, 1
    for _ in range(CHUNKS):
        crc, adler = zlib.crc32(CHUNK, crc), zlib.adler32(CHUNK, adler)
    return crc, adler


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Content-Encoding -> a body that inflates to 2 GiB of zeros, trailers and all."""
    raw, (crc, adler) = raw_deflate_bomb(), checksums()
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    gzip_bomb = header + raw + struct.pack("<II", crc, CHUNKS * len(CHUNK) % 2**32)
    zlib_bomb = b"\x78\xda" + raw + struct.pack(">I", adler)
    compressor = brotli.Compressor(quality=5)
    br_bomb = b"".join(compressor.process(CHUNK) for _ in range(CHUNKS)) + compressor.finish()
    return {"gzip": gzip_bomb, "deflate": zlib_bomb, "br": br_bomb}


def inflates_past(coding: str, body: bytes, size: int) -> bool:
    """Whether `body` gives more than `size` bytes (inflated only that far)."""
    if coding == "br":
        return len(brotli.Decompressor().process(body, output_buffer_limit=size + 1)) > size
    inflater = zlib.decompressobj({"gzip": 31, "deflate": 15}[coding])
    return len(inflater.decompress(body, size + 1)) > size


def encoded(coding: str, body: bytes):
    """A replica answer (ReplicaServer's `answers`): `body` as it is, under `coding`."""

    def answer(server, handler, res) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", res.content_type)
        handler.send_header("Content-Encoding", coding)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def test_compressed_bombs_are_cut_at_the_size_cap_and_honest_encodings_decoded(
    bombs, tmp_path, monkeypatch, fault_report
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    for coding, body in bombs.items():
        assert len(body) < 3 << 20 and inflates_past(coding, body, 64 << 20), coding
    site = build_site("founder-new", "bcrb", [DAY], pages=3)
    bomb_paths = {coding: site.fault_paths(f"article:{i}")[0] for i, coding in enumerate(bombs)}
    honest = {"br": site.fault_paths("article:3")[0], "gzip": site.fault_paths("article:4")[0]}
    pdf_bomb = site.fault_paths("pdf:2")[0]
    answers = {path: encoded(coding, bombs[coding]) for coding, path in bomb_paths.items()}
    answers[pdf_bomb] = encoded("gzip", bombs["gzip"])
    answers[honest["br"]] = encoded("br", brotli.compress(site.resolve(honest["br"], "").body))
    honest_gzip = gzip.compress(site.resolve(honest["gzip"], "").body)
    answers[honest["gzip"]] = encoded("gzip", honest_gzip)

    workdir = tmp_path / "crawl"
    with ReplicaServer([site], answers=answers) as server:
        stats = run_crawl(
            site.paper,
            DAY.isoformat(),
            site.family,
            server.base_url + site.url_for(DAY),
            str(workdir),
        )
        hits = dict(server.answered)
    # the largest process this test waited for: the crawl (it ran the whole edition)
    peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    items: dict[str, list[dict]] = {"page": [], "article": [], "skipped": [], "missing": []}
    for line in (workdir / "items.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        items[item["type"]].append(item)

    assert stats["error"] is None and stats["finish_reason"] == "finished"
    skipped = {rel(s["url"]): s["reason"] for s in items["skipped"]}
    for coding, path in bomb_paths.items():
        reason = skipped.pop(path)
        size = len(bombs[coding])
        want = f"too large: a {coding} body of {size} bytes inflates past {MAX_PAGE_BYTES} bytes"
        assert want in reason, reason
        assert hits[path] == 1, "a bomb is not fetched again"
    assert "too large: a gzip body" in skipped.pop(pdf_bomb)  # past the page PDF cap (64 MiB)
    assert set(skipped.values()) == {"robots: forbidden by robots.txt"}  # the replica's robots trap

    truth = {a["url"]: a for a in site.truth(DAY)["articles"]}
    found = {rel(a["url"]): a for a in items["article"]}
    assert set(found) == set(truth) - set(bomb_paths.values())
    for coding, path in honest.items():
        assert hits[path] == 1 and truth[path]["paragraphs"][-1] in found[path]["html"], coding
    assert all(len(a["html"]) < MAX_PAGE_BYTES for a in items["article"])
    pages = {p["page_no"]: p for p in items["page"]}
    assert (
        len(pages) == 3
        and pages[2]["pdf_path"] is None
        and pages[1]["pdf_path"]
        and pages[3]["pdf_path"]
    )
    # bounded: 2 GiB a bomb, 8 GiB in all, yet the crawl moved a few MB and stayed small
    assert stats["bytes"] < 16 << 20
    assert peak_rss < 1 * GiB, f"the crawl reached {peak_rss >> 20} MiB"

    fault_report.row(
        "Compressed-body bomb (gzip/deflate/brotli): an article of 2 KB to 2 MB that inflates "
        "to 2 GiB",
        "inflated 64 KiB at a time up to the page cap (8 MiB), then skipped as "
        "`too large` (one request each); honest gzip and brotli articles decoded",
        f"every other article crawled; crawl peak RSS {peak_rss >> 20} MiB",
    )
    fault_report.row(
        "Compressed-body bomb as a page PDF (gzip, 2 GiB)",
        "inflated up to the page PDF cap (64 MiB), then the PDF skipped as `too large`",
        "the page and its articles crawled",
    )
