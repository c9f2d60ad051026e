"""`epaper demo`: the bundled replica e-paper sites archived into the embedded S3 server;
`epaper replica`: the same sites served until Ctrl-C, for trying runs by hand.

The replicas carry ids of their own (demo-bcrb, replica-bcrb, ...): the catalogue's real
papers (bcrb, xmwb, whb) are other sites, whose editions must never share keys with a replica's.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import yaml

from epaper.report import plural, summary
from papers.home import epaper_home
from papers.ids import is_reprint
from replica import ReplicaServer, Site, demo_sites
from storage.archive import open_archive

DEMO_PREFIX = "demo-"
REPLICA_PREFIX = "replica-"


def paper_entry(site: Site, base_url: str, prefix: str) -> dict:
    entry = site.paper_entry(base_url)
    return {**entry, "id": prefix + site.paper, "name": f"{entry['name']} (replica)"}


def write_papers_file(sites: list[Site], base_url: str, path: Path, prefix: str = "") -> Path:
    """A papers file for `sites` on `base_url`, their ids prefixed with `prefix` (no prefix:
    the replica's own ids, which override the catalogue's real papers of those names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [paper_entry(site, base_url, prefix) for site in sites]
    path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_demo() -> list[dict]:
    from flows.archive import archive_edition
    from storage import keys

    # The replica is our own server on 127.0.0.1: no politeness delay needed.
    os.environ.setdefault("EPAPER_DOWNLOAD_DELAY", "0")
    sites = demo_sites()
    results = []
    with ReplicaServer(sites) as server, open_archive() as archive:
        # Kept in EPAPER_HOME, where every later command finds it without --papers.
        papers_file = write_papers_file(
            sites, server.base_url, epaper_home() / "demo-papers.yaml", DEMO_PREFIX
        )
        print(
            f"replica sites on {server.base_url}: "
            + ", ".join(f"{DEMO_PREFIX}{s.paper} ({s.name}, {s.family})" for s in sites),
            flush=True,
        )
        for site in sites:
            for day in [*site.dates, *sorted(site.missing)]:
                result = archive_edition(
                    DEMO_PREFIX + site.paper, day.isoformat(), str(papers_file)
                )
                results.append(result)
                print(summary(result), flush=True)
        endpoint = os.environ["EPAPER_S3_ENDPOINT"]
        bucket = archive.bucket
    archived = [r for r in results if r["status"] != "missing"]
    articles = sum(len(r["articles"]) for r in archived)
    reprints = [a for r in archived for a in r["articles"] if is_reprint(a)]
    paper, day = DEMO_PREFIX + sites[0].paper, sites[0].dates[0].isoformat()
    # A story with reprints shows what `cluster` is for.
    reprinted = reprints[0]["cluster"] if reprints else archived[0]["articles"][0]["key"]
    print(f"""
demo: {plural(len(archived), "edition")}, {plural(articles, "article")}, \
{plural(len(reprints), "reprint")} of stories archived earlier, \
{plural(len(results) - len(archived), "date")} without an edition.
archive: bucket {bucket!r} (versioned) of the embedded S3 server, data in {epaper_home() / "s3"}
         (it was on {endpoint} while the demo ran; every epaper command starts it again)
papers:  {papers_file} (demo-*; every command reads it without --papers)
look:    epaper ls {paper}
         epaper ls {paper} {day}
         epaper show {keys.edition_manifest(paper, day)}
         epaper versions {keys.edition_manifest(paper, day)}
         epaper cluster {reprinted}
         epaper reprocess {paper} --date {day}
read:    epaper serve   then open http://127.0.0.1:8600 (the reading room: editions, search)
again:   epaper replica   (the same sites until Ctrl-C, to archive, backfill or deploy against)
runs:    prefect server start --host 127.0.0.1   then open http://127.0.0.1:4200 \
(flow runs, artifacts)""")
    return results


def serve_replica(families: list[str] | None, port: int, papers_out: Path | None) -> None:
    """Serve the replica sites (of `families`, default all) on 127.0.0.1:`port` until SIGINT
    or SIGTERM, with their papers file at `papers_out`."""
    sites = [s for s in demo_sites() if not families or s.family in families]
    try:
        server = ReplicaServer(sites, port=port)
    except OSError as exc:
        raise RuntimeError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): "
            "pass another --port, or 0 for any free one"
        ) from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        path = write_papers_file(
            sites,
            server.base_url,
            papers_out or epaper_home() / "replica-papers.yaml",
            REPLICA_PREFIX,
        )
        print(f"replica sites on {server.base_url} until Ctrl-C:", flush=True)
        for site in sites:
            dates = ", ".join(d.isoformat() for d in site.dates)
            print(
                f"  {REPLICA_PREFIX}{site.paper:10} {site.name} ({site.family}): {dates}",
                flush=True,
            )
        first = sites[0]
        paper, start, end = REPLICA_PREFIX + first.paper, first.dates[0], first.dates[-1]
        print(
            f"papers file: {path}\n"
            f"try: epaper archive {paper} --date {end} --papers {path}\n"
            f"     epaper backfill {paper} --from {start} --to {end} --papers {path}\n"
            f"     epaper deployments --papers {path}   (docs/prefect.md)",
            flush=True,
        )
        while not stop.wait(1):  # a signal handler sets it
            pass
    print("replica: stopped", flush=True)
