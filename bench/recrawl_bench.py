"""Bytes an unchanged re-crawl transfers, against the edition's first crawl.

    python -m bench.recrawl_bench [--gzip]

Archives one edition of every paper of the bundled replica (replica.demo_sites, all
CMS families) into an embedded SeaweedFS in a scratch EPAPER_HOME, then archives each again
unchanged: the second fetch asks conditionally (If-None-Match / If-Modified-Since) against
the archived WARC and the replica answers 304. Per paper and in total: bytes received as the
crawl stats count them (status line, headers and body of every response), the body bytes the
server sent, and the re-run's share of the first run. The issue's target: at most 10%.
--gzip serves the HTML gzip-compressed, as most real e-paper servers do.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import yaml
from warcio.archiveiterator import ArchiveIterator

from flows import steps
from papers.catalogue import get_paper
from papers.workdir import Workdir, new_workdir
from replica import DEMO_DATES, GzipReplica, ReplicaServer, demo_sites
from storage.archive import open_archive
from storage.catalog import Catalog

DAY = DEMO_DATES[1]  # the date every demo paper has an edition


def archive_once(paper, archive) -> dict:
    """One archive run of the edition: fetch, clean, dedupe, publish; its crawl figures."""
    workdir = new_workdir(paper.id, DAY.isoformat())
    start = time.perf_counter()
    stats = steps.fetch_edition(paper, DAY, workdir)
    seconds = time.perf_counter() - start
    steps.clean_edition(workdir)
    steps.dedupe_edition(workdir, Catalog())
    result = steps.publish_edition(workdir, archive, paper.id, DAY.isoformat(), stats)
    return {
        "requests": stats["requests"],
        "bytes": stats["bytes"],
        "sent": request_bytes(workdir / Workdir.WARC),
        "seconds": seconds,
        "written": result["changed"],
    }


def request_bytes(warc) -> int:
    """Bytes of the requests as the WARC records them (request line and headers)."""
    with open(warc, "rb") as stream:
        return sum(
            len(r.http_headers.to_bytes()) + len(r.raw_stream.read())
            for r in ArchiveIterator(stream)
            if r.rec_type == "request"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gzip", action="store_true", help="serve the replica's HTML gzip-compressed"
    )
    args = parser.parse_args()
    os.environ["EPAPER_DOWNLOAD_DELAY"] = "0"  # the replica is our own server on 127.0.0.1
    for name in ("EPAPER_S3_ENDPOINT", "EPAPER_CATALOG_URL"):  # scratch state only
        os.environ.pop(name, None)
    sites = demo_sites()
    with (
        tempfile.TemporaryDirectory() as home,
        (GzipReplica if args.gzip else ReplicaServer)(sites) as server,
    ):
        os.environ["EPAPER_HOME"] = home
        papers_file = os.path.join(home, "papers.yaml")
        with open(papers_file, "w", encoding="utf-8") as out:
            yaml.safe_dump([s.paper_entry(server.base_url) for s in sites], out, allow_unicode=True)
        rows = []
        with open_archive() as archive:
            for site in sites:
                paper = get_paper(site.paper, papers_file)
                runs = []
                for _ in range(2):
                    sent = server.bytes_sent
                    runs.append({**archive_once(paper, archive), "body": server.bytes_sent - sent})
                rows.append((site, *runs))

    print(
        f"edition {DAY}, replica HTML {'gzip-compressed' if args.gzip else 'uncompressed'}; "
        "received = status "
        "line + headers + body of every response (crawl stats), "
        "sent = requests as the WARC records them"
    )
    print(
        f"{'paper':<9}{'family':<17}{'requests':>9}{'received':>10}{'again':>8}{'share':>7}"
        f"{'sent':>8}{'again':>8}{'body':>8}{'again':>6}{'first s':>9}{'again s':>9}  re-run wrote"
    )
    for site, first, again in rows:
        print(
            f"{site.paper:<9}{site.family:<17}{first['requests']:>9}{first['bytes']:>10}{again['bytes']:>8}"
            f"{again['bytes'] / first['bytes']:>7.1%}{first['sent']:>8}{again['sent']:>8}"
            f"{first['body']:>8}"
            f"{again['body']:>6}{first['seconds']:>9.1f}{again['seconds']:>9.1f}  "
            f"{'yes' if again['written'] else 'nothing'}"
        )
    total = {
        run: {k: sum(r[run][k] for r in rows) for k in ("requests", "bytes", "sent", "body")}
        for run in (1, 2)
    }
    first, again = total[1], total[2]
    print(
        f"{'total':<26}{first['requests']:>9}{first['bytes']:>10}{again['bytes']:>8}"
        f"{again['bytes'] / first['bytes']:>7.1%}{first['sent']:>8}{again['sent']:>8}"
        f"{first['body']:>8}{again['body']:>6}"
    )
    both = (again["bytes"] + again["sent"]) / (first["bytes"] + first["sent"])
    print(
        f"re-run / first run: {again['bytes'] / first['bytes']:.1%} of the bytes received, "
        f"{both:.1%} counting the requests sent too"
    )


if __name__ == "__main__":
    main()
