"""Replay in pywb over the real SeaweedFS server: replica editions archived twice (the
second conditional, the replica answering 304 for unchanged pages), every capture of an
article replayed and compared with the archived article, GBK pages included; the WARCs
and indexes checked with warcio and cdxj-indexer; a damaged WARC; `epaper replay`."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
import wacz.waczindexer  # noqa: F401  (its import changes cdxj-indexer's defaults: ours must not follow)
from warcio.archiveiterator import ArchiveIterator

from dataset import replay
from flows import steps
from papers.catalogue import get_paper
from papers.workdir import new_workdir
from replica import build_site
from storage import keys
from storage.archive import open_archive
from storage.catalog import Catalog
from text.clean import clean_article

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAY = date(2025, 4, 28)


@pytest.fixture
def sites():
    """A UTF-8 paper (whose meta says gb2312) and a GBK one, an edition each."""
    return [
        build_site("founder-new", "bcrb", [DAY], skin="swiper", pages=2),
        build_site("founder-classic", "pdtimes", [DAY], missing={}, pages=2),
    ]


@pytest.fixture
def pywb(monkeypatch):
    if not os.environ.get("EPAPER_PYWB"):
        monkeypatch.setenv("EPAPER_PYWB", str(ROOT / ".venv-pywb" / "bin" / "wayback"))


def archive_edition(paper) -> dict:
    """The archive flow's steps without Prefect: the publish result."""
    workdir = new_workdir(paper.id, DAY.isoformat())
    stats = steps.fetch_edition(paper, DAY, workdir)
    steps.clean_edition(workdir)
    steps.dedupe_edition(workdir, Catalog())
    with open_archive() as archive:
        return steps.publish_edition(workdir, archive, paper.id, DAY.isoformat(), stats)


def news(site) -> list[dict]:
    return [a for a in site.truth(DAY)["articles"] if a["kind"] == "news"]


def get(url: str) -> tuple[int, dict, bytes]:
    """status, headers, body (decompressed) of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, dict(exc.headers), exc.read()
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return status, headers, body


def captures(base: str, url: str) -> list[dict]:
    """pywb's own index lookup: every capture of `url`, oldest first."""
    status, _, body = get(f"{base}/{replay.COLLECTION}/cdx?url={url}&output=json")
    assert status == 200, body
    return [json.loads(line) for line in body.decode().splitlines()]


def replayed_text(base: str, article: dict, timestamp: str, family: str) -> tuple[dict, bytes]:
    """The article as pywb replays it (its page as archived, id_: unrewritten), cleaned
    as the archive cleans a crawled page."""
    url = replay.replay_url(base, article["url"], timestamp)
    status, _, body = get(url.replace(f"/{timestamp}/", f"/{timestamp}id_/"))
    assert status == 200, (url, body[:500])
    try:
        html = body.decode("utf-8")
    except UnicodeDecodeError:
        html = body.decode("gb18030")
    item = {
        "url": article["url"],
        "html": html,
        "family": family,
        "page_no": article["page_no"],
        "page_name": article["page_name"],
    }
    return clean_article(item), body


def test_every_capture_replays_as_the_archived_article(papers, sites, pywb, archive_env, chromium):
    server, papers_file = papers
    first, second, edited = {}, {}, {}
    for site in sites:
        paper = get_paper(site.paper, papers_file)
        first[site.paper] = archive_edition(paper)
        target = news(site)[0]
        site.edit_article(DAY, target["url"], target["paragraphs"] + ["本报将继续关注此事进展。"])
        edited[site.paper] = server.base_url + target["url"]
        start = len(server.log)
        second[site.paper] = archive_edition(paper)  # conditional: 304s but for the edit
        assert second[site.paper]["changed"]
        statuses = [e["status"] for e in server.log[start:]]
        assert statuses.count(304) >= len(statuses) - 1, statuses

    secret, access = archive_env["EPAPER_S3_SECRET_KEY"], archive_env["EPAPER_S3_ACCESS_KEY"]
    served: list[tuple[str, dict, bytes]] = []
    with open_archive() as archive, replay.serve(archive) as running:
        base = running.base
        assert base.startswith("http://127.0.0.1:") and not running.indexes.damaged
        for site in sites:
            unchanged = [a for a in first[site.paper]["articles"] if a["url"] != edited[site.paper]]
            assert unchanged
            for listed in unchanged:
                archived = json.loads(archive.get(listed["key"]))
                found = captures(base, listed["url"])
                # the first crawl's response, then the second crawl's revisit of it
                assert [c["mime"] for c in found] == ["text/html", "warc/revisit"], found
                assert found[1]["status"] == "200"
                for capture in found:
                    cleaned, body = replayed_text(base, archived, capture["timestamp"], site.family)
                    assert cleaned["title"] == archived["title"]
                    assert cleaned["text"] == archived["text"] and archived["text"]
                if site.family == "founder-classic":  # GBK bytes, as the site sent them
                    with pytest.raises(UnicodeDecodeError):
                        body.decode("utf-8")
            # the edited article: its old text, then the new
            found = captures(base, edited[site.paper])
            assert [c["mime"] for c in found] == ["text/html", "text/html"]
            old, _ = replayed_text(
                base,
                {"url": edited[site.paper], "page_no": 1, "page_name": ""},
                found[0]["timestamp"],
                site.family,
            )
            new, _ = replayed_text(
                base,
                {"url": edited[site.paper], "page_no": 1, "page_name": ""},
                found[1]["timestamp"],
                site.family,
            )
            assert new["text"] == old["text"] + "\n本报将继续关注此事进展。"

        # What a reader sees: the framed replay, the calendar, the collection, errors.
        listed = next(a for a in first["pdtimes"]["articles"] if a["url"] != edited["pdtimes"])
        article = json.loads(archive.get(listed["key"]))
        revisit = captures(base, article["url"])[1]["timestamp"]
        for url in (
            replay.replay_url(base, article["url"], revisit),
            replay.replay_url(base, article["url"], second["pdtimes"]["crawl"]["started"]),
            replay.calendar_url(base, article["url"]),
            f"{base}/",
            f"{base}/{replay.COLLECTION}/",
            f"{base}/{replay.COLLECTION}/20250101000000/http://127.0.0.1:1/nowhere.html",
            f"{base}/{replay.COLLECTION}/cdx?url={server.base_url}/*&output=json",
        ):
            served.append((url, *get(url)[1:]))
            assert b"Pywb Error" not in served[-1][2], url
        screenshot(
            chromium, replay.replay_url(base, article["url"], revisit), article["title"], served
        )

    for url, headers, body in served:
        page = json.dumps(headers).encode() + body
        assert secret.encode() not in page and access.encode() not in page, url

    with open_archive() as archive:
        for paper, result in [*first.items(), *second.items()]:
            check_warc(archive, result["crawl"]["warc_key"], paper)


def screenshot(chromium, url: str, title: str, served: list) -> None:
    """The replayed page in headless Chromium, saved for docs/replay.md."""
    page = chromium.new_page(viewport={"width": 1100, "height": 700})
    try:
        page.goto(url, timeout=120_000)
        frame = page.frame_locator("#replay_iframe")
        frame.locator("body p").first.wait_for(state="attached", timeout=120_000)
        page.wait_for_load_state("load", timeout=120_000)
        out = ROOT / "docs" / "img" / "replay.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        text = frame.locator("body").inner_text()
        assert title in text, text[:500]
        served.append((url, {}, page.content().encode() + text.encode()))
    finally:
        page.close()


def check_warc(archive, warc_key: str, paper: str) -> None:
    """warcio check and cdxj-indexer accept it, warcinfo opens it, its index is theirs."""
    data = archive.get(warc_key)
    first = next(iter(ArchiveIterator(io.BytesIO(data))))
    assert first.rec_type == "warcinfo"
    fields = dict(
        line.split(": ", 1) for line in first.content_stream().read().decode().splitlines()
    )
    assert fields["paper"] == paper and fields["edition-date"] == DAY.isoformat()
    assert fields["robots"] == "obey" and fields["software"].startswith("epaper-archive/")
    assert warc_key.rsplit("/", 1)[1].startswith(f"{paper}-")
    assert keys.is_raw_warc(warc_key)
    path = Path(os.environ["EPAPER_HOME"]) / warc_key.rsplit("/", 1)[1]
    path.write_bytes(data)
    check = subprocess.run(
        [BIN / "warcio", "check", "-v", path], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    indexed = subprocess.run(
        [BIN / "cdxj-indexer", "--sort", path], capture_output=True, text=True, timeout=120
    )
    assert indexed.returncode == 0, indexed.stderr
    theirs = [line.rsplit('"filename": ', 1)[0] for line in indexed.stdout.splitlines()]
    stored = archive.get(keys.warc_index(warc_key)).decode().splitlines()
    assert [line.rsplit('"filename": ', 1)[0] for line in stored] == theirs
    name = warc_key.removeprefix("raw/")
    assert all(json.loads(line.split(" ", 2)[2])["filename"] == name for line in stored)
    merged = archive.get(keys.edition_index(paper, DAY)).decode().splitlines()
    assert set(stored) <= set(merged) and merged == sorted(merged)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_replay_cli_names_a_damaged_warc_and_replays_the_rest(papers, sites, pywb):
    server, papers_file = papers
    results = {site.paper: archive_edition(get_paper(site.paper, papers_file)) for site in sites}
    with open_archive() as archive:
        # pdtimes: its WARC cut short in the bucket, after its index was written.
        damaged = results["pdtimes"]["crawl"]["warc_key"]
        data, index = archive.get(damaged), archive.get(keys.warc_index(damaged))
        cut = len(data) // 3
        archive.put(damaged, data[:cut], "application/warc")
        # bcrb: as archived before indexes existed, with no CDXJ in the bucket.
        legacy = results["bcrb"]["crawl"]["warc_key"]
        for key in (keys.warc_index(legacy), keys.edition_index("bcrb", DAY)):
            archive._client.remove_object(archive.bucket, key)
        before = {key: archive.versions(key) for key in archive.list()}

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epaper.cli", "replay", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not lines or "indexes:" not in lines[-1]:  # the last line it prints at start
            line = proc.stdout.readline()
            assert line, f"replay ended: {proc.wait(60)} {proc.stderr.read()}"
            lines.append(line)
        assert "2 editions" in lines[0], lines
        named = [line for line in lines if line.strip().startswith("damaged:")]
        assert len(named) == 1 and damaged in named[0], lines
        base = f"http://127.0.0.1:{port}"

        # The legacy edition replays from the index made in the cache.
        article = results["bcrb"]["articles"][0]
        with open_archive() as archive:
            archived = json.loads(archive.get(article["key"]))
        capture = captures(base, article["url"])[0]
        cleaned, _ = replayed_text(base, archived, capture["timestamp"], "founder-new")
        assert cleaned["text"] == archived["text"]

        # The damaged one says which object it is, where its records are lost.
        lost = next(
            entry
            for _, entry in replay._index_lines(index)
            if int(entry["offset"]) > cut and entry["mime"] == "text/html"
        )
        timestamp = captures(base, lost["url"])[0]["timestamp"]
        status, _, body = get(
            replay.replay_url(base, lost["url"], timestamp).replace(
                f"/{timestamp}/", f"/{timestamp}id_/"
            )
        )
        assert status >= 400 and damaged.removeprefix("raw/").encode() in body, body[:800]

        # Bound to 127.0.0.1 only.
        with socket.socket() as other:
            other_ip = socket.gethostbyname(socket.gethostname())
            if other_ip != "127.0.0.1":
                assert other.connect_ex((other_ip, port)) != 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "replay: stopped" in out
    with socket.socket() as probe:  # pywb is gone with it
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    with open_archive() as archive:  # replay read the bucket and wrote nothing to it
        assert {key: archive.versions(key) for key in archive.list()} == before
    assert (
        Path(os.environ["EPAPER_HOME"]) / "replay" / "indexes" / "bcrb_2025-04-28.cdxj"
    ).exists()


def test_replay_without_pywb_says_how_to_install_it(archive_env, monkeypatch):
    monkeypatch.setenv("EPAPER_PYWB", "/nonexistent/wayback")
    run = subprocess.run(
        [sys.executable, "-m", "epaper.cli", "replay", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert run.stderr.startswith("epaper: error: pywb not found (EPAPER_PYWB=/nonexistent")
    assert "requirements-pywb.lock" in run.stderr
