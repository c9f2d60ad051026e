"""Issue 20.1 end to end: an edition page links to the embedded SeaweedFS's own ports
(the master's /col/delete once wiped the archive this way), to other local services, to
another loopback host and to non-HTTP schemes. A real archive run on the embedded server
under EPAPER_HOME fetches none of them, and every object version archived before stays
readable. Server side, the same GETs sent straight at the embedded server (as a crawl
without confinement would) change nothing either.

The replica has no option for extra HTML, so a tiny proxy of this file serves the replica
with the hostile links added to the edition's pages.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from flows.archive import archive_edition
from replica import ReplicaServer, build_site
from storage.archive import open_archive
from storage.s3server import GRPC_OFFSET

CLEAN_DAY, HOSTILE_DAY = date(2025, 4, 28), date(2025, 4, 29)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "accept-encoding"}

# What a GET could ask of each internal port, if it were fetched.
DESTRUCTIVE = {
    "master": [
        "/col/delete?collection={bucket}",
        "/vol/grow?count=8",
        "/vol/vacuum?garbageThreshold=0.0001",
        "/dir/assign",
        "/submit",
    ],
    "volume": ["/admin/delete_collection?collection={bucket}", "/1,01637037d6?delete=1", "/status"],
    "filer": [
        "/buckets/{bucket}/?recursive=true&ignoreRecursiveError=true",
        "/buckets/{bucket}/editions/",
    ],
    "admin": ["/api/cluster/volumes", "/metrics"],
}
S3_PATHS = [
    "/{bucket}?delete",
    "/{bucket}/editions/?versions",
    "/?Action=DeleteUser&UserName=epaper",
    "/{bucket}/editions/bcrb/{day}/manifest.json?versionId=null",
]


def internal_links(ports: dict[str, int], bucket: str) -> list[str]:
    """Destructive GETs on every port of the embedded server: http ones, their gRPC twins, S3."""
    links = []
    for name, paths in DESTRUCTIVE.items():
        for port in (ports[name], ports[name] + GRPC_OFFSET):
            links += [f"http://127.0.0.1:{port}{p.format(bucket=bucket)}" for p in paths]
    links += [
        f"http://127.0.0.1:{ports['s3']}{p.format(bucket=bucket, day=CLEAN_DAY)}" for p in S3_PATHS
    ]
    links += [f"http://127.0.0.1:{ports['s3'] + GRPC_OFFSET}/"]
    return links


def other_local_links(site_port: int) -> tuple[list[str], list[str]]:
    """(other local services and another loopback host, non-HTTP schemes)."""
    return (
        [
            "http://127.0.0.1:5432/",
            "http://127.0.0.1:6379/FLUSHALL",
            "https://127.0.0.1:6379/",
            # the site's own port
            f"http://127.0.0.2:{site_port}/bcrb/pc/layout/202504/29/node_01.html",
            f"http://127.0.0.2:{site_port + 1}/",
        ],
        [
            f"ftp://127.0.0.1:{site_port}/bcrb/pc/layout/202504/29/node_01.pdf",
            "ftp://127.0.0.1/pub/",
            "file:///etc/passwd",
            "file:///" + str(Path.home() / ".aws" / "credentials").lstrip("/"),
        ],
    )


def hostile_html(links: list[str]) -> str:
    """Every link twice: as a page of the edition and as an article of the page."""
    pages = "".join(
        f'<div class="swiper-slide"><a href="{u}">page {i}</a></div>\n' for i, u in enumerate(links)
    )
    articles = "".join(f'<li><a href="{u}">article {i}</a></li>\n' for i, u in enumerate(links))
    return f'<div class="swiper-wrapper">\n{pages}</div>\n<ul class="news-list">\n{articles}</ul>\n'


class LinkingProxy:
    """127.0.0.1 proxy to the replica that adds `html` to the given pages' HTML."""

    def __init__(self, upstream: str, pages: set[str]):
        self.pages, self.html = pages, ""
        up = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
                try:  # the Host header goes along: the replica writes its links for it
                    conn.request(
                        "GET",
                        self.path,
                        headers={
                            k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                        },
                    )
                    answer = conn.getresponse()
                    body = answer.read()
                finally:
                    conn.close()
                if answer.status == 200 and self.path in proxy.pages:
                    body = body.replace(b"</body>", proxy.html.encode() + b"</body>", 1)
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LinkingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def every_version(archive) -> dict[tuple[str, str], bytes]:
    """Each (key, version_id) in the bucket with its bytes."""
    return {
        (key, v["version_id"]): archive.get(key, version_id=v["version_id"])
        for key in archive.list()
        for v in archive.versions(key)
    }


def requested_urls(archive, warc_key: str) -> list[str]:
    records = ArchiveIterator(io.BytesIO(archive.get(warc_key)))  # it reads gzip members itself
    return [r.rec_headers.get_header("WARC-Target-URI") for r in records if r.rec_type == "request"]


@pytest.fixture
def embedded_home(tmp_path, monkeypatch, prefect_api) -> Path:
    """EPAPER_HOME of its own, no EPAPER_S3_*: the run uses the embedded server there."""
    for name in (
        "EPAPER_S3_ENDPOINT",
        "EPAPER_S3_ACCESS_KEY",
        "EPAPER_S3_SECRET_KEY",
        "EPAPER_S3_SECURE",
        "EPAPER_S3_BUCKET",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path))
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    return tmp_path


def test_links_to_the_embedded_server_and_local_services_are_never_fetched(
    embedded_home, fault_report
):
    site = build_site("founder-new", "bcrb", [CLEAN_DAY, HOSTILE_DAY], skin="swiper")
    hostile_pages = {p["url"] for p in site.truth(HOSTILE_DAY)["pages"]}
    decoy = (
        socket.socket()
    )  # another loopback host on the site's very port: a connection would queue
    with (
        ReplicaServer([site]) as replica,
        LinkingProxy(replica.base_url, hostile_pages) as proxy,
        decoy,
        open_archive() as archive,
    ):  # one embedded server for both runs, as a daemon would keep it
        papers_file = embedded_home / "papers.yaml"
        papers_file.write_text(yaml.safe_dump([site.paper_entry(proxy.base_url)]), encoding="utf-8")
        first = archive_edition(site.paper, CLEAN_DAY.isoformat(), str(papers_file))
        assert first["status"] == "complete"
        before = every_version(archive)
        assert len(before) > 10 and {k for k, _ in before} >= {
            f"editions/bcrb/{CLEAN_DAY}/manifest.json"
        }

        ports = json.loads((embedded_home / "s3" / "ports.json").read_text())
        assert archive.endpoint == f"127.0.0.1:{ports['s3']}"  # the live server's ports
        ours = internal_links(ports, archive.bucket)
        elsewhere, schemes = other_local_links(proxy.port)
        decoy.bind(("127.0.0.2", proxy.port))
        decoy.listen()
        decoy.setblocking(False)
        proxy.html = hostile_html(ours + elsewhere + schemes)

        hostile = archive_edition(site.paper, HOSTILE_DAY.isoformat(), str(papers_file))
        manifest = json.loads(archive.get(f"editions/bcrb/{HOSTILE_DAY}/manifest.json"))
        skipped = {}
        for s in manifest["skipped"]:
            skipped.setdefault(s["url"], s["reason"])
        for url in ours + elsewhere:
            assert skipped.get(url, "").startswith("offsite: "), (url, skipped.get(url))
        for url in schemes:
            assert skipped.get(url, "").startswith("scheme: "), (url, skipped.get(url))
        requested = requested_urls(archive, manifest["crawl"]["warc_key"])
        assert requested and all(u.startswith(proxy.base_url + "/") for u in requested), [
            u for u in requested if not u.startswith(proxy.base_url + "/")
        ]
        with pytest.raises(BlockingIOError):
            decoy.accept()
        assert {a["url"] for a in manifest["articles"]} >= {
            proxy.base_url + a["url"]
            for a in site.truth(HOSTILE_DAY)["articles"]
            if a["kind"] == "news" and not a["hidden"]
        }

        after = every_version(archive)
        lost = {k: v for k, v in before.items() if after.get(k) != v}
        assert not lost, f"earlier versions changed or gone: {sorted(lost)}"
        assert json.loads((embedded_home / "s3" / "ports.json").read_text()) == ports
    offsite = sum(1 for r in skipped.values() if r.startswith("offsite"))
    fault_report.row(
        "Link to the embedded server's master/volume/filer port "
        "(`/col/delete?collection=epaper-archive`, `/vol/grow`, filer and admin paths, "
        "their gRPC twins, destructive S3 queries), "
        "as a page and an article",
        f"never requested (the WARC has only the site's URLs); {len(ours)} links skipped as "
        "`offsite: … is not the site's port`; the edition is archived without them",
        f"every one of the {len(before)} object versions archived before is readable, "
        f"byte for byte (status {hostile['status']})",
    )
    fault_report.row(
        "Links to other local services and non-HTTP schemes (127.0.0.1:5432, :6379, "
        "127.0.0.2 on the site's own port, ftp://, file:///etc/passwd)",
        "services and the other loopback host skipped as `offsite`, "
        "no connection reached 127.0.0.2; "
        "ftp:// and file:// skipped as `scheme: … links are not fetched`; "
        f"{offsite} offsite skips in the manifest",
        "the archive as before; nothing fetched outside the site",
    )


def test_the_embedded_server_refuses_what_those_links_ask_when_sent_straight(
    embedded_home, fault_report
):
    """Server side: without the crawl's confinement, the same GETs (and a volume DELETE/PUT)
    reach the ports; none removes or adds anything."""
    with open_archive() as archive:
        archive.put("articles/bcrb/2025-04-28/01/a.json", b"first")
        archive.put("articles/bcrb/2025-04-28/01/a.json", b"second")
        archive.put("editions/bcrb/2025-04-28/manifest.json", b"{}")
        before = every_version(archive)
        ports = json.loads((embedded_home / "s3" / "ports.json").read_text())

        def status(url: str, method: str = "GET") -> str:
            """The HTTP status as text, or what went wrong (a gRPC port speaks no HTTP/1.1)."""
            parts = urlsplit(url)
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            try:
                conn.request(
                    method,
                    parts.path + (f"?{parts.query}" if parts.query else ""),
                    body=b"x" if method == "PUT" else None,
                )
                return str(conn.getresponse().status)
            except (OSError, http.client.HTTPException) as error:
                return type(error).__name__
            finally:
                conn.close()

        answers = {url: status(url) for url in internal_links(ports, archive.bucket)}
        master, filer, volume = (
            f"http://127.0.0.1:{ports[n]}" for n in ("master", "filer", "volume")
        )
        for path in (
            "/col/delete?collection=" + archive.bucket,
            "/vol/grow?count=8",
            "/dir/assign",
        ):
            assert answers[master + path] == "404", (path, answers[master + path])
        assert answers[f"{filer}/buckets/{archive.bucket}/editions/"] == "404"
        # the volume server takes writes and deletes only with the master's signature
        assert status(f"{volume}/1,01637037d6", "DELETE") == "401"
        assert status(f"{volume}/1,01637037d6", "PUT") == "401"

        after = every_version(archive)
        assert after == before, "a GET changed the archive"
        assert archive.put(
            "articles/bcrb/2025-04-28/01/a.json", b"third"
        ).changed  # S3 still serves
    fault_report.row(
        "The same GETs sent straight at the embedded server, as a crawl without confinement would "
        "(master `/col/delete`, `/vol/grow`, `/dir/assign`; filer listing; volume DELETE/PUT)",
        "404: weed runs with `-disableHttp`, so the master and filer have no HTTP API; "
        "the volume server answers 401 `wrong jwt` "
        "(writes need the master's signature, a key made on each start)",
        f"all {len(before)} versions readable and unchanged; S3 writes a new version",
    )
