"""Run one crawl (one paper, one date) in a fresh process.

    python -m spiders.crawl --paper bcrb --date 2025-04-28 --family founder-new \\
        --edition-url http://…/node_01.html --workdir /tmp/w [--encoding gb18030]

A process per crawl: Twisted's reactor cannot be restarted, and a crawl that hangs or
crashes cannot take its caller down. The work folder receives items.jsonl, files/,
crawl.warc.gz, crawl.log and stats.json (docs/internals.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from papers.workdir import Workdir

ROOT = Path(__file__).resolve().parent.parent


class CrawlError(RuntimeError):
    """The crawl could not run; the message is one line naming the reason."""


_SECRETS = ("EPAPER_S3_ACCESS_KEY", "EPAPER_S3_SECRET_KEY", "EPAPER_CATALOG_URL")


def run_crawl(
    paper: str,
    date: str,
    family: str,
    edition_url: str,
    workdir: str,
    encoding: str | None = None,
    settings: dict | None = None,
    timeout: float | None = None,
) -> dict:
    """Crawl one edition in a child process; returns its stats (see `write_stats`).

    A date without edition is not an error: the crawl then yields a `missing` item.
    """
    cmd = [
        sys.executable,
        "-m",
        "spiders.crawl",
        "--paper",
        paper,
        "--date",
        date,
        "--family",
        family,
        "--edition-url",
        edition_url,
        "--workdir",
        str(workdir),
    ]
    if encoding:
        cmd += ["--encoding", encoding]
    for name, value in (settings or {}).items():
        cmd += ["--set", f"{name}={json.dumps(value)}"]
    # The crawl parses hostile pages and never needs the archive's or the catalog's secrets.
    env = {name: value for name, value in os.environ.items() if name not in _SECRETS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CrawlError(f"crawl timed out after {timeout:.0f} s: {edition_url}") from None
    stats_file = Path(workdir) / Workdir.STATS
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    if proc.returncode != 0:
        lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
        raise CrawlError(
            stats.get("error") or (lines[-1] if lines else f"crawl exited with {proc.returncode}")
        )
    return stats


def crawl_settings(workdir: Path, overrides: dict):
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    settings.set(
        "FEEDS",
        {
            str(workdir / Workdir.ITEMS): {
                "format": "jsonlines",
                "encoding": "utf-8",
                "overwrite": True,
            }
        },
    )
    settings.set("FILES_STORE", str(workdir / Workdir.FILES))
    settings.set("WARC_PATH", str(workdir / Workdir.WARC))
    settings.set("LOG_FILE", str(workdir / Workdir.LOG))
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


def write_stats(stats: dict, path: Path) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    out = {
        "started": iso(stats.get("start_time")),
        "finished": iso(stats.get("finish_time")),
        "requests": stats.get("downloader/request_count", 0),
        "bytes": stats.get("downloader/response_bytes", 0),
        "items": stats.get("item_scraped_count", 0),
        # distinct article URLs the edition's pages link (lists and hotspots), each of which
        # must end archived or skipped (papers/checks.py articles_accounted)
        "articles_linked": stats.get("epaper/articles_linked", 0),
        "skipped": {
            k.split("/", 1)[1]: v for k, v in sorted(stats.items()) if k.startswith("skipped/")
        },
        "retries": stats.get("retry/count", 0),
        "finish_reason": stats.get("finish_reason"),
        # The edition's time or request budget ran out: what it cut is in "skipped".
        "incomplete": incomplete(stats),
        "error": stats.get("epaper/error"),
    }
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return out


def incomplete(stats: dict) -> str | None:
    """Why the crawl stopped before the end of the edition, or None."""
    if stats.get("epaper/deadline_cut"):
        return (
            f"deadline: {stats['epaper/deadline_cut']} requests not done within the edition's "
            f"time budget of {stats['epaper/deadline_budget']:g} s"
        )
    if stats.get("skipped/budget"):
        return f"budget: {stats['skipped/budget']} requests over the edition's request budget"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spiders.crawl", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--paper", required=True)
    parser.add_argument("--date", required=True, help="YYYY-MM-DD")
    parser.add_argument("--family", required=True)
    parser.add_argument("--edition-url", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--encoding")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=JSON", help="a Scrapy setting"
    )
    args = parser.parse_args(argv)

    # Our items are dicts, yet itemadapter (feed, FilesPipeline) imports pydantic, there for
    # Prefect, to recognise its models: 60 ms of every crawl process's start.
    sys.modules.setdefault("pydantic", None)
    from scrapy.crawler import CrawlerProcess

    from papers import family as registry
    from papers.family import FamilyError
    from spiders.families import spider_class

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    overrides = {}
    for pair in args.set:
        name, _, value = pair.partition("=")
        overrides[name] = json.loads(value)
    try:
        family = registry.get(args.family)
    except KeyError:
        print(f"unknown family: {args.family}", file=sys.stderr)
        return 2
    except FamilyError as exc:  # a module of EPAPER_FAMILY_MODULES that does not import
        print(exc, file=sys.stderr)
        return 2
    process = CrawlerProcess(crawl_settings(workdir, overrides), install_root_handler=True)
    crawler = process.create_crawler(spider_class(family))
    process.crawl(
        crawler,
        family=family,
        paper=args.paper,
        date=args.date,
        edition_url=args.edition_url,
        encoding=args.encoding,
    )
    process.start()
    stats = write_stats(crawler.stats.get_stats(), workdir / Workdir.STATS)
    if stats["error"]:
        print(stats["error"], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
