"""`epaper demo`: the bundled replica e-paper sites archived into the embedded S3 server."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from epaper.replica import ReplicaServer, demo_sites
from flows.workdir import epaper_home
from storage.archive import open_archive


def write_papers_file(sites, base_url: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [site.paper_entry(base_url) for site in sites]
    path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_demo() -> list[dict]:
    from epaper.cli import summary
    from flows.archive import archive_edition

    # The replica is our own server on 127.0.0.1: no politeness delay needed.
    os.environ.setdefault("EPAPER_DOWNLOAD_DELAY", "0")
    sites = demo_sites()
    results = []
    with ReplicaServer(sites) as server, open_archive() as archive:
        papers_file = write_papers_file(sites, server.base_url, epaper_home() / "demo-papers.yaml")
        print(f"replica sites on {server.base_url}: "
              + ", ".join(f"{s.paper} ({s.name}, {s.family})" for s in sites))
        for site in sites:
            for day in [*site.dates, *sorted(site.missing)]:
                result = archive_edition(site.paper, day.isoformat(), str(papers_file))
                results.append(result)
                print(summary(result))
        endpoint = os.environ["EPAPER_S3_ENDPOINT"]
        bucket = archive.bucket
    archived = [r for r in results if r["status"] != "missing"]
    articles = sum(len(r["articles"]) for r in archived)
    reprints = sum(1 for r in archived for a in r["articles"] if a["cluster"] != a["key"])
    print(f"""
demo: {len(archived)} editions, {articles} articles, {reprints} reprints of stories archived
      earlier, {len(results) - len(archived)} dates without an edition.
archive: bucket {bucket!r} (versioned) of the embedded S3 server, data in {epaper_home() / 's3'}
         (it was on {endpoint} while the demo ran; every epaper command starts it again)
look:    epaper ls {sites[0].paper} {sites[0].dates[0].isoformat()}
         epaper show editions/{sites[0].paper}/{sites[0].dates[0].isoformat()}/manifest.json
         epaper cluster <an article key from the manifest>
runs:    prefect server start --host 127.0.0.1   then open http://127.0.0.1:4200 (flow runs, artifacts)""")
    return results
