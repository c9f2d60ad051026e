"""An S3 server that dies mid-publish, and disks that fill up: the work folder's, the S3
server's. Real SeaweedFS, real file systems (small tmpfs mounts), real steps.

A dead server fails the publish step at once, naming its endpoint, instead of every
object retrying on its own; a full disk is named as full, never as "unreachable" or a
JSON parse error; nothing archived is lost and a re-run completes the edition.
"""

from __future__ import annotations

import datetime as dt
import errno
import io
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows import steps
from flows.archive import archive_edition
from papers.catalogue import get_paper
from papers.workdir import DamagedFile, NoSpace, Workdir, edition_workdir, read_jsonl, write_jsonl
from replica import ReplicaServer, build_site
from storage import keys
from storage.archive import Archive, ArchiveFull, ArchiveUnavailable, open_archive
from storage.catalog import Catalog
from storage.s3server import EmbeddedS3
from tests.fixtures.tcp_proxy import TcpProxy

PAPER, DAY = "bcrb", "2025-04-28"
MANIFEST = keys.edition_manifest(PAPER, DAY)
ARTICLES = 300


# --- helpers ----------------------------------------------------------------------------


def write_warc(path: Path, url: str, body: bytes) -> None:
    """A WARC of one response, as publish needs one (it indexes it with cdxj-indexer)."""
    with open(path, "wb") as warc:
        writer = WARCWriter(warc, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http
        )
        writer.write_record(record)


def generated_edition(workdir: Path, catalog: Catalog, articles: int = ARTICLES) -> dict:
    """A work folder as a crawl and clean leave it, with `articles` articles on 10 pages,
    deduped by the real step; returns the crawl stats publish needs."""
    workdir.mkdir(parents=True)
    pages = [
        {
            "type": "page",
            "paper": PAPER,
            "date": DAY,
            "page_no": no,
            "page_name": f"第{no}版",
            "url": f"http://paper.test/{DAY}/node_{no}.html",
            "pdf_url": None,
            "kind": "news",
        }
        for no in range(1, 11)
    ]
    write_jsonl(workdir / "items.jsonl", pages)
    cleaned = [
        {
            "paper": PAPER,
            "date": DAY,
            "page_no": n % 10 + 1,
            "page_name": f"第{n % 10 + 1}版",
            "url": f"http://paper.test/{DAY}/content_{n}.html",
            "article_id": f"a{n}",
            "kicker": "",
            "title": f"第{n}篇",
            "subtitle": "",
            "author": "",
            "source": "",
            "paragraphs": [f"稿件{n}的正文，第{k}段。" for k in range(3)],
            "text": "\n".join(f"稿件{n}的正文，第{k}段。" for k in range(3)),
            "images": [],
            "warnings": [],
        }
        for n in range(articles)
    ]
    write_jsonl(workdir / Workdir.CLEANED, cleaned)
    steps.dedupe_edition(workdir, catalog)
    write_warc(workdir / "crawl.warc.gz", pages[0]["url"], "<html>第1版</html>".encode())
    now = dt.datetime.now(dt.UTC).isoformat()
    return {"started": now, "finished": now, "requests": articles + 10, "bytes": 0}


class KillingRelay(TcpProxy):
    """A TCP relay to an S3 server that SIGKILLs the server's process group when the
    `kill_at`-th PUT comes through (that PUT is dropped), as a crash mid-publish would;
    with kill=False it only drops that PUT's connection (a network blip, the server up).
    `target` can be changed (the restarted server) and `kill_at` set to None.
    `acknowledged`: the paths of the PUTs the server answered 200 (HTTP/1.1 is one
    request at a time per connection, so an answer belongs to the connection's last request)."""

    def __init__(self, s3: EmbeddedS3, kill_at: int | None, kill: bool = True):
        super().__init__(s3.endpoint)
        self.s3, self.kill_at, self.kill = s3, kill_at, kill
        self.puts = 0
        self.acknowledged: set[str] = set()
        self.killed_at: float | None = None

    def request(self, data: bytes, conn: dict) -> bool:
        if data[:1].isupper() and b" /" in data[:8]:  # a request line
            conn["last"] = data.split(b" ", 2)[1] if data.startswith(b"PUT /") else b""
            return not (conn["last"] and self._kill_now())
        return True

    def response(self, data: bytes, conn: dict) -> None:
        if data.startswith(b"HTTP/1.1 200") and conn.get("last"):
            self.acknowledged.add(conn["last"].split(b"?")[0].decode())

    def _kill_now(self) -> bool:
        with self.lock:
            self.puts += 1
            if self.kill_at is None or self.puts != self.kill_at:
                return False
            if self.kill:
                os.killpg(self.s3.pid, signal.SIGKILL)
            self.killed_at = time.monotonic()
            return True


def archived(archive: Archive) -> dict[str, int]:
    """Versions of every object in the bucket."""
    return {key: len(archive.versions(key)) for key in archive.list()}


# --- the S3 server dies mid-publish -----------------------------------------------------


def test_s3_killed_mid_publish_fails_at_once_naming_the_endpoint_and_a_rerun_completes(
    tmp_path, fault_report
):
    s3 = EmbeddedS3(tmp_path / "s3")
    s3.start()
    relay = KillingRelay(s3, kill_at=None)
    try:
        with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
            stats = generated_edition(tmp_path / "work", catalog)
        archive = Archive(
            relay.endpoint, s3.access_key, s3.secret_key, bucket="down"
        )  # default tries
        relay.kill_at = relay.puts + 40  # past the bucket's set-up: 39 articles go through
        with pytest.raises(ArchiveUnavailable) as failure:
            steps.publish_edition(tmp_path / "work", archive, PAPER, DAY, stats)
        took = time.monotonic() - relay.killed_at
        print(
            f"publish failed {took:.2f} s after the S3 server was killed ({relay.puts} PUTs sent)"
        )
        message = str(failure.value)
        assert message.startswith(f"S3 at {relay.endpoint} unreachable: "), message
        assert (
            "got no answer either" in message
            and "\n" not in message
            and s3.secret_key not in message
        )
        assert relay.puts < 40 + 8, "the publisher kept sending after the server was known down"

        s3.stop()  # reaps the killed weed and frees its data folder
        s3.start()
        relay.target, relay.kill_at = s3.endpoint, None
        again = Archive(relay.endpoint, s3.access_key, s3.secret_key, bucket="down")
        written = archived(again)
        assert not [key for key in written if key.startswith("editions/")], (
            "a half-written edition is visible"
        )
        stored = {f"/down/{key}" for key in written}
        assert len(relay.acknowledged) > 30 and relay.acknowledged - {"/down"} <= stored, (
            "an object the server acknowledged was lost"
        )
        result = steps.publish_edition(tmp_path / "work", again, PAPER, DAY, stats)
        after = archived(again)
    finally:
        relay.close()
        s3.stop()
    assert result["changed"] and len(result["articles"]) == ARTICLES
    assert {a["key"] for a in result["articles"]} | {MANIFEST} <= set(after)
    assert set(after.values()) == {1}, "the re-run wrote a second version of an object it had"
    fault_report.row(
        "S3 server SIGKILLed mid-publish of 300 articles",
        f"the publish step failed {took:.1f} s after the kill, with one line naming the endpoint: "
        f"`{message[:70]}…`; the remaining uploads were not attempted",
        f"no manifest: edition not visible; the {len(written)} objects written before stayed; "
        f"re-run after the restart: {ARTICLES} articles, every object one version",
    )


def test_a_dropped_connection_to_a_live_server_is_retried_not_taken_for_an_outage(tmp_path, caplog):
    with EmbeddedS3(tmp_path / "s3") as s3:
        relay = KillingRelay(s3, kill_at=None, kill=False)
        try:
            with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
                stats = generated_edition(tmp_path / "work", catalog, articles=40)
            archive = Archive(
                relay.endpoint, s3.access_key, s3.secret_key, bucket="blip", backoff=0.1
            )
            relay.kill_at = relay.puts + 10
            result = steps.publish_edition(tmp_path / "work", archive, PAPER, DAY, stats)
            assert relay.killed_at is not None, "no connection was dropped"
            assert result["changed"] and len(result["articles"]) == 40 and archive.exists(MANIFEST)
            assert set(archived(archive).values()) == {1}
        finally:
            relay.close()
    retries = [r.getMessage() for r in caplog.records if "retry 1/" in r.getMessage()]
    assert retries and not [r for r in caplog.records if "got no answer either" in r.getMessage()]


# --- full disks ---------------------------------------------------------------------------


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` (needs root: skipped without), unmounted after."""
    path.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill (root needed): {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Write zeros to a file on `disk` until no space is left; returns the file."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(bytes(1 << 16))
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def test_work_folder_on_a_full_disk_says_no_space_naming_the_path(
    tmp_path, monkeypatch, fault_report
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", PAPER, [dt.date.fromisoformat(DAY)], pages=2)
    with small_disk(tmp_path / "disk", "8m") as disk:
        monkeypatch.setenv("EPAPER_HOME", str(disk / "home"))
        with (
            Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog,
            edition_workdir(PAPER, DAY) as workdir,
        ):
            generated_edition(workdir / "edition", catalog, articles=30)
            (workdir / "edition" / Workdir.DEDUPED).unlink()
            filler = fill(disk)
            with pytest.raises(NoSpace) as full:
                steps.dedupe_edition(workdir / "edition", catalog)
            deduped = workdir / "edition" / Workdir.DEDUPED
            assert str(full.value).startswith(f"no space left on device: {deduped}")
            # A file cut short mid-record names itself, while the disk is full and once space
            # is back.
            filler.unlink()
            deduped.write_text('{"key": "articles/bcrb/1.json"}\n{"key": "arti', encoding="utf-8")
            filler = fill(disk)
            with pytest.raises(NoSpace, match=f"no space left on device: {deduped}"):
                list(read_jsonl(deduped))
            filler.unlink()
            with pytest.raises(DamagedFile) as damaged:
                list(read_jsonl(deduped))
            assert str(damaged.value).startswith(f"{deduped} line ") and "not whole JSON" in str(
                damaged.value
            )
            # A real crawl into the full disk (it failed with "Expecting value: line 1 column 1").
            fill(disk)
            with ReplicaServer([site]) as server:
                papers = tmp_path / "papers.yaml"
                papers.write_text(
                    yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
                    encoding="utf-8",
                )
                with pytest.raises(NoSpace) as crawl:
                    steps.crawl_edition(
                        get_paper(PAPER, str(papers)), dt.date.fromisoformat(DAY), workdir / "crawl"
                    )
            assert str(crawl.value).startswith(f"no space left on device: {workdir / 'crawl'} ("), (
                crawl.value
            )
    fault_report.row(
        "Work folder on a full disk (tmpfs filled to the last byte)",
        f"the step fails with `{str(full.value)[:40]}…/deduped.jsonl (0 bytes free)`; a crawl into "
        "it fails with `no space left on device: <work folder>`, not `Expecting value: line 1 "
        "column 1 (char 0)`; a file the disk cut short is named with its line",
        "nothing published from a half-written file; the failed run's folder stays for inspection",
    )


def epaper_ls(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", "ls"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def test_s3_server_on_a_full_disk_says_its_storage_is_full(
    tmp_path, monkeypatch, s3_server, fault_report
):
    monkeypatch.delenv("EPAPER_S3_ENDPOINT", raising=False)
    with small_disk(tmp_path / "disk", "64m") as disk:
        monkeypatch.setenv("EPAPER_HOME", str(disk / "home"))
        with Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}") as catalog:
            stats = generated_edition(tmp_path / "work", catalog, articles=30)
        # 1 MiB that does not compress: the WARC is what fills the S3 server's disk
        write_warc(tmp_path / "work" / "crawl.warc.gz", "http://paper.test/", os.urandom(1 << 20))
        with open_archive() as archive:  # the embedded server, its data on the small disk
            before = archive.put(
                "articles/bcrb/2025-04-27/01/kept.json", b'{"title": "kept"}', "application/json"
            )
            filler = fill(disk)
            with pytest.raises(ArchiveFull) as full:
                steps.publish_edition(tmp_path / "work", archive, PAPER, DAY, stats)
            message = str(full.value)
            assert message.startswith(
                f"the S3 server's storage is full ({disk / 'home' / 's3'}: "
            ), message
            assert "unreachable" not in message and not archive.exists(MANIFEST)
            assert archive.get(before.key, before.version_id) == b'{"title": "kept"}'
        filler.unlink()
        # A running weed does not take writes again once space is back (500s go on): a re-run,
        # which starts the embedded server anew, does.
        with open_archive() as archive:
            result = steps.publish_edition(tmp_path / "work", archive, PAPER, DAY, stats)
            assert result["changed"] and len(result["articles"]) == 30 and archive.exists(MANIFEST)
            assert archive.get(before.key, before.version_id) == b'{"title": "kept"}'

        # Read-only commands: the embedded server cannot start on a full disk (weed writes its
        # state and logs); it says so in one line. An S3 server elsewhere is read as usual.
        fill(disk)
        embedded = epaper_ls()
        assert embedded.returncode == 1
        assert embedded.stderr.strip().startswith(
            f"epaper: error: no space left on device: {disk / 'home' / 's3'} ("
        ), embedded.stderr
        endpoint, access_key, secret_key = s3_server
        remote = epaper_ls(
            EPAPER_S3_ENDPOINT=endpoint,
            EPAPER_S3_ACCESS_KEY=access_key,
            EPAPER_S3_SECRET_KEY=secret_key,
            EPAPER_S3_BUCKET="full-disk-ls",
        )
        assert remote.returncode == 0, remote.stderr
    fault_report.row(
        "S3 server's volume full (embedded SeaweedFS on a filled tmpfs)",
        f'publish fails with `{message[:60]}…`, not "unreachable"; '
        "`epaper ls` on the full disk: one line `no space left on device: <EPAPER_HOME>/s3`, "
        "and works with an S3 server elsewhere",
        "no manifest; objects archived before stay readable; with space again the re-run "
        "publishes all 30 articles",
    )


def test_an_edition_run_into_a_full_work_disk_fails_naming_the_work_folder(
    archive_env, prefect_api, tmp_path, monkeypatch
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", PAPER, [dt.date.fromisoformat(DAY)], pages=2)
    with small_disk(tmp_path / "disk", "4m") as disk, ReplicaServer([site]) as server:
        monkeypatch.setenv("EPAPER_HOME", str(disk / "home"))
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        fill(disk)
        with pytest.raises(NoSpace) as full:
            archive_edition(PAPER, DAY, str(papers))
    work = disk / "home" / "work" / PAPER / DAY
    assert str(full.value).startswith(f"no space left on device: {work}/"), full.value
    # Prefect pickles a task's exception to keep it: the copy says the same.
    assert str(pickle.loads(pickle.dumps(full.value))) == str(full.value)
    with open_archive() as archive:
        assert list(archive.list()) == [], "a run that could not crawl published something"
