"""Fault injection, process side: a run SIGKILLed mid-crawl and mid-publish, the S3 server
stopped during publish, the catalog database unreachable, one edition archived twice at
once. Real SeaweedFS, real Prefect, real PostgreSQL, real HTTP; the CLI in subprocesses.

After every fault: no edition is visible that is not complete, a re-run completes it,
no object has a second version with the same content, and every object version a
manifest lists exists and is whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import yaml

from flows import steps
from flows.archive import archive_edition
from replica import ReplicaServer, build_site
from storage import keys
from storage.archive import Archive, ArchiveUnavailable, open_archive
from storage.catalog import Catalog, CatalogError
from storage.s3server import EmbeddedS3
from tests.fixtures.edition import all_versions

DAY = date(2025, 4, 28)
PAPER = "bcrb"
MANIFEST = f"editions/{PAPER}/{DAY}/manifest.json"


# --- helpers ----------------------------------------------------------------------------


class SlowProxy:
    """A TCP proxy on 127.0.0.1 that holds every chunk the client sends for `delay`
    seconds: a slow link to the S3 server, so that a publish lasts long enough to be
    interrupted. `target` can be changed while it runs (a restarted server).

    `pair_put` (a path fragment, with `pair_wait` seconds): the first PUT of a path that
    contains it is held until a second client PUTs the same path (or the wait ends), so two
    publishers of one edition meet at that object rather than by luck of timing."""

    def __init__(
        self, target: str, delay: float, pair_put: bytes | None = None, pair_wait: float = 30
    ):
        self.target = target
        self.delay = delay
        self.pair_put, self.pair_wait = pair_put, pair_wait
        self.paired: bytes | None = None  # the path two PUTs met at
        self._held: tuple[bytes, threading.Event] | None = None
        self._pair_lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        host, port = self.target.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            client.close()  # the server is down: the client sees the connection drop
            return
        upstream.settimeout(None)
        self._sockets += [client, upstream]
        threading.Thread(
            target=self._pump, args=(client, upstream, self.delay), daemon=True
        ).start()
        self._pump(upstream, client, 0)

    def _hold(self, chunk: bytes) -> None:
        """The pairing of the first PUT of a `pair_put` path with a second one."""
        if not (self.pair_put and chunk.startswith(b"PUT ")):
            return
        path = chunk.split(b" ", 2)[1]
        if self.pair_put not in path:
            return
        with self._pair_lock:
            if self._held is None:
                self._held = (path, threading.Event())
                event = self._held[1]
            else:
                if self._held[0] == path and not self._held[1].is_set():
                    self.paired = path
                    self._held[1].set()
                return
        event.wait(self.pair_wait)
        event.set()  # once only: later PUTs go straight through

    def _pump(self, src: socket.socket, dst: socket.socket, delay: float) -> None:
        try:
            while chunk := src.recv(1 << 16):
                if delay:
                    time.sleep(delay)
                    self._hold(chunk)
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass


@contextmanager
def edition_site(tmp_path, **server_options):
    """One small replica paper (2 pages) and a --papers file naming it."""
    site = build_site("founder-new", PAPER, [DAY], pages=2)
    with ReplicaServer([site], **server_options) as server:
        path = tmp_path / "papers.yaml"
        path.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        yield site, server, str(path)


def start_cli(tmp_path: Path, name: str, *args: str, **env: str) -> subprocess.Popen:
    """`epaper …` in its own process group (so it can be killed whole, crawl included)."""
    from prefect.settings import PREFECT_API_URL

    out = open(tmp_path / f"{name}.out", "w")
    err = open(tmp_path / f"{name}.err", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "epaper.cli", *args],
        stdout=out,
        stderr=err,
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **env},
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the crawl child belongs to the group: gone too
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("a process of the killed run survived")


def wait_for(condition, proc: subprocess.Popen | None = None, timeout: float = 180, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}: exit {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def keys_under(prefix: str = "") -> list[str]:
    with open_archive() as archive:
        return list(archive.list(prefix))


def check_archive_whole() -> dict[str, int]:
    """Every version of every object holds the content its sha256 metadata names; every
    object a manifest version lists exists in the listed version. Returns versions per key."""
    versions = {}
    with open_archive() as archive:
        for key in archive.list():
            history = archive.versions(key)
            versions[key] = len(history)
            for v in history:
                data = archive.get(key, version_id=v["version_id"])
                assert hashlib.sha256(data).hexdigest() == v["sha256"], (
                    f"half-written {key} {v['version_id']}"
                )
                if key.endswith("/manifest.json"):
                    manifest = json.loads(data)
                    for listed in manifest["articles"]:
                        article = json.loads(
                            archive.get(listed["key"], version_id=listed["version_id"])
                        )
                        assert (
                            article["sha256"] == listed["sha256"]
                            and article["url"] == listed["url"]
                        )
                    for page in manifest["pages"]:
                        assert page["pdf_key"] is None or archive.exists(page["pdf_key"])
                    assert archive.exists(manifest["crawl"]["warc_key"])
    return versions


def assert_complete_once(site, server) -> dict:
    """The edition is archived whole, and no object has two versions."""
    versions = check_archive_whole()
    with open_archive() as archive:
        manifest = json.loads(archive.get(MANIFEST))
    news = {server.base_url + a["url"] for a in site.truth(DAY)["articles"] if a["kind"] == "news"}
    assert {a["url"] for a in manifest["articles"]} == news
    assert set(versions.values()) == {1}, {k: n for k, n in versions.items() if n != 1}
    listed = (
        {a["key"] for a in manifest["articles"]}
        | {p["pdf_key"] for p in manifest["pages"]}
        | {p["pdf_key"][:-4] + ".txt" for p in manifest["pages"] if p["pdf_key"]}
        | {p["image_key"] for p in manifest["pages"] if p.get("image_key")}
        | {MANIFEST, manifest["crawl"]["warc_key"], keys.warc_index(manifest["crawl"]["warc_key"])}
        | {keys.edition_index(manifest["paper"], manifest["date"])}
    )
    listed.discard(None)
    assert set(versions) == listed, "an object no manifest lists (orphan) is left"
    return manifest


@pytest.fixture(autouse=True)
def no_delay(monkeypatch):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")


# --- SIGKILL ----------------------------------------------------------------------------


def test_sigkill_mid_crawl_leaves_nothing_visible_and_a_rerun_completes(
    archive_env, prefect_api, tmp_path, fault_report
):
    work = Path(archive_env["EPAPER_HOME"]) / "work" / PAPER / DAY.isoformat()
    with edition_site(tmp_path, delay=0.4) as (site, server, papers_file):
        proc = start_cli(
            tmp_path, "killed", "archive", PAPER, "--date", DAY.isoformat(), "--papers", papers_file
        )
        try:
            wait_for(
                lambda: list(work.glob("*/items.jsonl")) and len(server.paths()) >= 4,
                proc,
                what="the crawl is under way",
            )
        finally:
            kill_group(proc)
        fetched = len(server.paths())
        server.delay = 0
        assert keys_under() == [], "a killed crawl published something"

        [abandoned] = work.iterdir()
        result = archive_edition(PAPER, DAY.isoformat(), papers_file)
        assert result["status"] == "complete"
        manifest = assert_complete_once(site, server)
        assert not abandoned.exists(), "the killed run's work folder was not swept"
        assert list(work.iterdir()) == []
    fault_report.row(
        "SIGKILL to the whole run (CLI and crawl process group) mid-crawl",
        f"killed after {fetched} requests: no object written, no manifest, edition not visible",
        f"re-run: {len(manifest['articles'])} articles, every object one version, no orphan; "
        "the killed run's work folder swept",
    )


def test_sigkill_mid_publish_leaves_no_manifest_and_a_rerun_completes_without_duplicates(
    archive_env, prefect_api, tmp_path, fault_report
):
    proxy = SlowProxy(archive_env["EPAPER_S3_ENDPOINT"], delay=0.15)
    try:
        with edition_site(tmp_path) as (site, server, papers_file):
            proc = start_cli(
                tmp_path,
                "killed",
                "archive",
                PAPER,
                "--date",
                DAY.isoformat(),
                "--papers",
                papers_file,
                EPAPER_S3_ENDPOINT=proxy.endpoint,
            )
            try:
                wait_for(
                    lambda: keys_under("articles/"), proc, what="the first article is published"
                )
            finally:
                kill_group(proc)
            orphans = keys_under()
            assert MANIFEST not in orphans and not [k for k in orphans if k.startswith("raw/")]
            check_archive_whole()  # what the killed run wrote is whole, not half-written

            result = archive_edition(PAPER, DAY.isoformat(), papers_file)
            assert result["status"] == "complete"
            manifest = assert_complete_once(site, server)
    finally:
        proxy.close()
    fault_report.row(
        "SIGKILL to the whole run mid-publish (after the first article object)",
        f"{len(orphans)} objects written, no manifest: the edition is not visible",
        f"re-run reuses them (put-if-changed): {len(manifest['articles'])} articles, "
        "every object one version, none half-written, no orphan",
    )


# --- the S3 server stops during publish -----------------------------------------------


@contextmanager
def own_s3(tmp_path, monkeypatch):
    """A SeaweedFS of this test's own (it will be stopped), behind a slow proxy."""
    s3 = EmbeddedS3(tmp_path / "s3")
    s3.start()
    proxy = SlowProxy(s3.endpoint, delay=0.1)
    try:
        for name, value in {
            "EPAPER_S3_ENDPOINT": proxy.endpoint,
            "EPAPER_S3_ACCESS_KEY": s3.access_key,
            "EPAPER_S3_SECRET_KEY": s3.secret_key,
            "EPAPER_S3_BUCKET": "faults",
            "EPAPER_S3_SECURE": "0",
            "EPAPER_HOME": str(tmp_path),
        }.items():
            monkeypatch.setenv(name, value)
        yield s3, proxy
    finally:
        proxy.close()
        s3.stop()


def test_s3_stopped_during_publish_is_retried_and_the_run_completes(
    tmp_path, monkeypatch, prefect_api, caplog, fault_report
):
    outage = {}
    done = threading.Event()

    def break_s3(s3, proxy):
        # Runs in its own thread, which lives until the test ends: weed dies with the
        # thread that started it.
        direct = Archive(s3.endpoint, s3.access_key, s3.secret_key, bucket="faults")
        wait_for(lambda: list(direct.list("pdfs/")), what="publish starts", timeout=300)
        endpoint = s3.endpoint
        s3.stop()
        outage["stopped"] = time.monotonic()
        time.sleep(1.5)
        s3.start()
        outage["back"] = time.monotonic()
        outage["same_endpoint"] = s3.endpoint == endpoint
        proxy.target = s3.endpoint
        done.wait(600)
        s3.stop()

    with (
        own_s3(tmp_path, monkeypatch) as (s3, proxy),
        edition_site(tmp_path) as (site, server, papers_file),
    ):
        breaker = threading.Thread(target=break_s3, args=(s3, proxy), daemon=True)
        breaker.start()
        try:
            result = archive_edition(PAPER, DAY.isoformat(), papers_file)
            assert result["status"] == "complete"
            assert "back" in outage, "the run ended before the outage"
            manifest = assert_complete_once(site, server)
        finally:
            done.set()
            breaker.join(60)
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage().lower()]
    assert retries, "no retry was logged"
    down = outage["back"] - outage["stopped"]
    fault_report.row(
        "S3 server stopped mid-publish (after the first PDF), restarted on the same data",
        f"down {down:.0f} s; publish retried with backoff ({len(retries)} retry messages) and "
        "completed in the same run",
        f"{len(manifest['articles'])} articles, every object one version, manifest last",
    )


def test_s3_down_past_the_retry_limit_fails_clearly_and_a_rerun_completes(
    tmp_path, monkeypatch, fault_report
):
    """At the step level (Prefect adds 3 task retries, 35 s of backoff, on top)."""
    with (
        own_s3(tmp_path, monkeypatch) as (s3, proxy),
        edition_site(tmp_path) as (site, server, papers_file),
    ):
        from papers.catalogue import get_paper

        workdir = tmp_path / "work"
        workdir.mkdir()
        stats = steps.crawl_edition(get_paper(PAPER, papers_file), DAY, workdir)
        steps.clean_edition(workdir)
        with Catalog() as catalog:
            steps.dedupe_edition(workdir, catalog)
        archive = Archive(
            proxy.endpoint, s3.access_key, s3.secret_key, bucket="faults", tries=3, backoff=0.2
        )
        s3.stop()
        started = time.monotonic()
        with pytest.raises(ArchiveUnavailable) as failure:
            steps.publish_edition(workdir, archive, PAPER, DAY.isoformat(), stats)
        took = time.monotonic() - started
        message = str(failure.value)
        assert "\n" not in message and message.startswith(f"S3 at {proxy.endpoint} unreachable: ")
        assert message.endswith("so nothing more is sent to it") and s3.secret_key not in message
        s3.start()
        proxy.target = s3.endpoint
        again = Archive(
            proxy.endpoint, s3.access_key, s3.secret_key, bucket="faults"
        )  # a re-run: new connections
        assert not again.exists(MANIFEST)
        steps.publish_edition(workdir, again, PAPER, DAY.isoformat(), stats)
        manifest = assert_complete_once(site, server)
    fault_report.row(
        "S3 server down for longer than the retries",
        "the publish step fails once a check of the bucket gets no answer either "
        f"({took:.1f} s here; in a flow run Prefect then retries the task 3 times over 35 s) "
        f"with one line: `{message[:60]}…`",
        f"nothing visible; re-run once S3 is back: {len(manifest['articles'])} articles, "
        "one version each",
    )


# --- the catalog database -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_catalog_fails_clearly_and_publishes_nothing(
    archive_env, prefect_api, tmp_path, monkeypatch, fault_report
):
    password = "catalog-Pa55word"
    monkeypatch.setenv(
        "EPAPER_CATALOG_URL", f"postgresql://epaper:{password}@127.0.0.1:{free_port()}/catalog"
    )
    with edition_site(tmp_path) as (_, _, papers_file), pytest.raises(CatalogError) as failure:
        archive_edition(PAPER, DAY.isoformat(), papers_file)
    message = str(failure.value).splitlines()[0]
    assert (
        message.startswith("catalog database postgresql+psycopg://epaper:***@127.0.0.1:")
        and "unreachable" in message
    )
    assert password not in str(failure.value)
    assert all_versions() == {}, "published without dedupe records"
    fault_report.row(
        "Catalog database unreachable (PostgreSQL URL to a closed port)",
        f"dedupe fails after its retries: `{message[:80]}…` (password masked)",
        "nothing published: no article without its dedupe record",
    )


# --- the same edition twice at once ---------------------------------------------------------


@pytest.fixture
def pg_catalog(monkeypatch):
    """A fresh PostgreSQL catalog database, dropped afterwards."""
    import psycopg

    name = f"epaper_faults_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("EPAPER_CATALOG_URL", f"postgresql://postgres@127.0.0.1:5432/{name}")
    yield name
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class WrittenTwice(AssertionError):
    """An object got a second version with the same content."""


def test_the_same_edition_twice_at_once_ends_in_one_consistent_edition(
    archive_env, prefect_api, pg_catalog, tmp_path, fault_report
):
    with open_archive():
        pass  # the bucket exists before either run: they race on the edition, not on creating it
    # Publishes that overlap: both runs' first PDF upload meets at the proxy, as two workers'
    # would when a schedule and a manual run fire together.
    proxy = SlowProxy(
        archive_env["EPAPER_S3_ENDPOINT"], delay=0.02, pair_put=b"/pdfs/", pair_wait=20
    )
    try:
        with edition_site(tmp_path) as (site, server, papers_file):
            procs = [
                start_cli(
                    tmp_path,
                    f"run{i}",
                    "archive",
                    PAPER,
                    "--date",
                    DAY.isoformat(),
                    "--papers",
                    papers_file,
                    EPAPER_S3_ENDPOINT=proxy.endpoint,
                )
                for i in (1, 2)
            ]
            try:
                codes = [p.wait(300) for p in procs]
            finally:
                for p in procs:
                    if p.poll() is None:
                        kill_group(p)
            stderr = [(tmp_path / f"run{i}.err").read_text() for i in (1, 2)]
            assert codes == [0, 0], stderr
            versions = (
                check_archive_whole()
            )  # every manifest version lists versions that exist, whole
            with open_archive() as archive:
                manifest = json.loads(archive.get(MANIFEST))
            news = {
                server.base_url + a["url"]
                for a in site.truth(DAY)["articles"]
                if a["kind"] == "news"
            }
            assert {a["url"] for a in manifest["articles"]} == news
    finally:
        proxy.close()
    dups = sorted(k for k, n in versions.items() if n > 1 and k != MANIFEST)
    met = (
        "their first PDF uploads met" if proxy.paired else "their uploads did not meet (one waited)"
    )
    fault_report.row(
        "The same edition archived by two CLI processes at once (PostgreSQL catalog)",
        f"both runs exit 0 ({met}); the manifest (written last) lists versions that exist and "
        "are whole",
        f"GAP: {len(dups)} objects got a second, identical version (two publishers race on "
        "put-if-changed)"
        if dups
        else "no object has a second version",
    )
    if dups:
        raise WrittenTwice(f"{len(dups)} objects written twice, e.g. {dups[0]}")
