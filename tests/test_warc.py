"""WARC capture and conditional re-crawls: editions of a replica site fetched over HTTP
into real SeaweedFS, and their WARCs read back with warcio."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows import steps
from papers.catalogue import get_paper
from papers.workdir import new_workdir
from replica import GzipReplica, build_site
from spiders.httpcache import WarcError, WarcIndex
from spiders.warc import SERVER_NOT_MODIFIED
from storage.archive import open_archive
from storage.catalog import Catalog

DAY = date(2025, 4, 28)


@pytest.fixture
def edition(archive_env, tmp_path, monkeypatch):
    """(site, server, paper): a founder-new replica on 127.0.0.1 and its catalogue entry."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", [DAY], skin="swiper")
    with GzipReplica([site]) as server:
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        yield site, server, get_paper(site.paper, str(papers))


def archive_edition(paper) -> tuple[dict, dict, Path]:
    """The archive flow's steps without Prefect: (crawl stats, publish result, work folder)."""
    workdir = new_workdir(paper.id, DAY.isoformat())
    stats = steps.fetch_edition(paper, DAY, workdir)
    steps.clean_edition(workdir)
    steps.dedupe_edition(workdir, Catalog())
    with open_archive() as archive:
        return (
            stats,
            steps.publish_edition(workdir, archive, paper.id, DAY.isoformat(), stats),
            workdir,
        )


def read_warc(data: bytes) -> list[dict]:
    """Every record, digests checked: type, headers, HTTP status line/headers, raw payload."""
    records = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests="raise"):
        records.append(
            {
                "type": record.rec_type,
                "warc": dict(record.rec_headers.headers),
                "version": record.rec_headers.protocol,
                "http": record.http_headers,
                "payload": record.raw_stream.read(),
            }
        )
    return records


def sha1_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def all_versions() -> dict[str, int]:
    with open_archive() as archive:
        return {key: len(archive.versions(key)) for key in archive.list()}


def test_archived_warc_holds_every_exchange_as_received(edition):
    site, server, paper = edition
    _, result, _ = archive_edition(paper)
    with open_archive() as archive:
        records = read_warc(archive.get(result["crawl"]["warc_key"]))

    assert {r["version"] for r in records} == {"WARC/1.1"}
    assert len({r["warc"]["WARC-Record-ID"] for r in records}) == len(records)
    requests = [r for r in records if r["type"] == "request"]
    assert sorted(r["http"].statusline.split()[0] for r in requests) == sorted(server.paths()), (
        "one request record per request the server saw, robots.txt included"
    )
    responses = {r["warc"]["WARC-Target-URI"]: r for r in records if r["type"] == "response"}
    assert len(responses) == len(requests)
    host = server.base_url.removeprefix("http://")
    for article in result["articles"]:
        response = responses[article["url"]]
        path = article["url"].removeprefix(server.base_url)
        # As sent: still gzip-compressed, byte for byte, with its Content-Encoding.
        assert response["http"].get_statuscode() == "200"
        assert response["http"].get_header("Content-Encoding") == "gzip"
        assert response["payload"] == server.resolve(path, host).body
        assert response["warc"]["WARC-Payload-Digest"] == sha1_digest(response["payload"])
        assert article["title"] in gzip.decompress(response["payload"]).decode("utf-8")


def test_unchanged_recrawl_revalidates_everything_and_writes_nothing(edition):
    _, server, paper = edition
    first_stats, first, _ = archive_edition(paper)
    first_requests, first_sent = len(server.log), server.bytes_sent
    before = all_versions()

    stats, again, workdir = archive_edition(paper)
    assert again["changed"] is False and all_versions() == before
    rerun = server.log[first_requests:]
    assert len(rerun) == first_requests and {e["status"] for e in rerun} == {304}
    assert server.bytes_sent == first_sent, "no body sent again"
    assert stats["bytes"] <= 0.10 * first_stats["bytes"], (
        stats["bytes"],
        first_stats["bytes"],
    )  # the target

    with open_archive() as archive:
        originals = {
            r["warc"]["WARC-Record-ID"]: r
            for r in read_warc(archive.get(first["crawl"]["warc_key"]))
        }
    records = read_warc((workdir / "crawl.warc.gz").read_bytes())
    assert records[0]["type"] == "warcinfo"
    revisits = [r for r in records if r["type"] == "revisit"]
    assert len(revisits) == first_requests and not [r for r in records if r["type"] == "response"]
    # The 304 as received, beside each revisit: what the server said is never lost.
    not_modified = {
        r["warc"]["WARC-Refers-To"]: r["payload"].decode("latin-1")
        for r in records
        if r["type"] == "metadata"
    }
    for revisit in revisits:
        original = originals[revisit["warc"]["WARC-Refers-To"]]
        assert revisit["warc"]["WARC-Profile"] == SERVER_NOT_MODIFIED
        assert revisit["payload"] == b""
        assert original["type"] == "response"
        # Replayable: the original's status and payload headers, as the 304 updated them.
        assert revisit["http"].get_statuscode() == original["http"].get_statuscode()
        for name in ("Content-Type", "Content-Length", "Content-Encoding"):
            assert revisit["http"].get_header(name) == original["http"].get_header(name)
        received = not_modified[revisit["warc"]["WARC-Record-ID"]]
        assert received.startswith("HTTP-Status: HTTP/1.1 304 ")
        etag = revisit["http"].get_header("ETag")
        assert not etag or f"etag: {etag}" in received.lower()
        assert revisit["warc"]["WARC-Refers-To-Target-URI"] == original["warc"]["WARC-Target-URI"]
        assert revisit["warc"]["WARC-Refers-To-Date"] == original["warc"]["WARC-Date"]
        assert revisit["warc"]["WARC-Payload-Digest"] == original["warc"]["WARC-Payload-Digest"]
    sent = [r["http"] for r in records if r["type"] == "request"]
    assert all(h.get_header("If-None-Match") for h in sent)
    assert any(h.get_header("If-Modified-Since") for h in sent)


def test_changed_article_is_fetched_in_full_and_later_crawls_resolve_both_warcs(edition):
    site, server, paper = edition
    _, first, _ = archive_edition(paper)
    target = next(a for a in site.truth(DAY)["articles"] if a["kind"] == "news")
    site.edit_article(DAY, target["url"], target["paragraphs"] + ["本报将继续关注此事进展。"])
    changed_url = server.base_url + target["url"]

    start = len(server.log)
    _, second, workdir = archive_edition(paper)
    assert second["changed"] and second["crawl"]["warc_key"] != first["crawl"]["warc_key"]
    assert [e["path"] for e in server.log[start:] if e["status"] != 304] == [target["url"]]
    records = read_warc((workdir / "crawl.warc.gz").read_bytes())
    assert [r["warc"]["WARC-Target-URI"] for r in records if r["type"] == "response"] == [
        changed_url
    ]

    # The third crawl revalidates against the second, whose revisits point into the first.
    start = len(server.log)
    _, third, workdir = archive_edition(paper)
    assert third["changed"] is False
    assert {e["status"] for e in server.log[start:]} == {304}
    assert sorted(p.name for p in (workdir / "previous").iterdir()) == sorted(
        key.rsplit("/", 1)[1] for key in (first["crawl"]["warc_key"], second["crawl"]["warc_key"])
    )


def test_damaged_archived_warc_means_a_full_crawl_not_a_failure(edition):
    _, server, paper = edition
    _, first, _ = archive_edition(paper)
    with open_archive() as archive:
        key = first["crawl"]["warc_key"]
        archive.put(key, archive.get(key)[:1000], "application/warc")
    start = len(server.log)
    _, again, _ = archive_edition(paper)
    assert again["changed"] is False
    assert {e["status"] for e in server.log[start:]} == {200}


@pytest.fixture
def small_warc(tmp_path) -> bytes:
    """A sound two-pair WARC, as spiders/warc.py writes them."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    for n in range(2):
        uri = f"http://127.0.0.1/content_{n}.html"
        request = writer.create_warc_record(
            uri,
            "request",
            payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(
                f"GET /content_{n}.html HTTP/1.1", [("Host", "127.0.0.1")], is_http_request=True
            ),
        )
        response = writer.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(f"<p>{n}</p>".encode() * 200),
            http_headers=StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"
            ),
        )
        writer.write_request_response_pair(request, response)
    return out.getvalue()


@pytest.mark.parametrize(
    "damage", ["truncated", "no gzip trailer", "flipped byte", "empty", "not a WARC"]
)
def test_damaged_warcs_are_refused_with_a_reason(small_warc, tmp_path, damage):
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(small_warc)
    index = WarcIndex([path])
    record = index.find("GET", "http://127.0.0.1/content_1.html#frag")
    assert index.load(record)["body"] == b"<p>1</p>" * 200
    index.close()

    flipped = bytearray(small_warc)
    flipped[small_warc.index(b"\x1f\x8b", 1) + 100] ^= (
        0xFF  # in the second record's compressed data
    )
    path.write_bytes(
        {
            "truncated": small_warc[: len(small_warc) * 2 // 3],
            "no gzip trailer": small_warc[:-4],
            "flipped byte": bytes(flipped),
            "empty": b"",
            "not a WARC": gzip.compress(json.dumps({"paper": "bcrb"}).encode()),
        }[damage]
    )
    with pytest.raises(WarcError, match="corrupt or truncated|empty"):
        WarcIndex([path])
