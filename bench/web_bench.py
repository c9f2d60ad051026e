"""The reading room's page response times, p50/p95 of the edition, article, cluster and
search pages, at two archive sizes in one run, and the ratio of the larger's to the
smaller's (how the pages scale with the archive).

Each size is a synthetic archive (bench.search_bench's articles: 60 papers over three
years, 10% reprints) written for real: article JSON and edition manifests in a bucket of
the embedded SeaweedFS, every article through the dedupe catalog (SQLite) and the search
index. The app is `web.app.create_app()` served by uvicorn on 127.0.0.1; requests are
plain HTTP GETs, one at a time, of pages picked at random (the same seed for both sizes).

    python -m bench.web_bench                      # 100k and 1M articles (hours on 2 cores)
    python -m bench.web_bench --quick              # 2k and 20k, some minutes
    python -m bench.web_bench --articles 5000 50000 --requests 40
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from urllib.parse import quote

import httpx

from bench import harness
from bench.search_bench import pct, query_words, synthetic

PAGES = ("edition", "article", "cluster", "search")
TARGET_P95_MS = 300


def build(n: int, log) -> list[tuple[str, str, str, int]]:
    """n synthetic articles archived (JSON, manifests, catalog, search index): their key,
    paper, date and page."""
    from dataset.search import SearchIndex
    from storage import keys
    from storage.archive import in_parallel, open_archive
    from storage.catalog import Catalog

    editions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    archived: list[tuple[str, str, str, int]] = []
    started = time.monotonic()
    with open_archive() as archive, Catalog() as catalog, SearchIndex() as index:
        batch: list[dict] = []

        def flush() -> None:
            for article in batch:
                article["dedupe"] = catalog.assign(
                    article["key"], article["paper"], article["date"], article["text"]
                )
            results = in_parallel(
                [
                    lambda a=a: archive.put(
                        a["key"],
                        json.dumps({k: v for k, v in a.items() if k != "key"}).encode(),
                        "application/json",
                    )
                    for a in batch
                ]
            )
            index.add(batch)
            for article, put in zip(batch, results):
                where = (article["paper"], article["date"])
                archived.append((article["key"], *where, article["page_no"]))
                editions[where].append(
                    {
                        "key": article["key"],
                        "version_id": put.version_id,
                        "page_no": article["page_no"],
                        "title": article["title"],
                        "cluster": article["dedupe"]["cluster"],
                    }
                )
            batch.clear()

        for i, article in enumerate(synthetic(0, n)):
            batch.append(article)
            if len(batch) == 500:
                flush()
                log(f"  {i + 1}/{n} articles, {time.monotonic() - started:.0f} s")
        flush()
        in_parallel(
            [
                lambda p=p, d=d, listed=listed: archive.put(
                    keys.edition_manifest(p, d),
                    json.dumps(
                        {
                            "paper": p,
                            "date": d,
                            "status": "complete",
                            "pages": [
                                {"page_no": no, "page_name": f"{no:02d}版", "pdf_key": None}
                                for no in sorted({a["page_no"] for a in listed})
                            ],
                            "articles": sorted(listed, key=lambda a: (a["page_no"], a["key"])),
                        }
                    ).encode(),
                    "application/json",
                )
                for (p, d), listed in editions.items()
            ]
        )
    log(f"  built {n} articles, {len(editions)} editions in {time.monotonic() - started:.0f} s")
    return archived


@contextmanager
def served():
    import uvicorn

    from web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the reading room did not start")
        time.sleep(0.2)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def urls(archived: list[tuple[str, str, str, int]], requests: int) -> dict[str, list[str]]:
    """The pages asked for: random articles of the archive, the same seed for each size."""
    rng = random.Random(11)
    picked = rng.sample(archived, requests)
    words = query_words()
    return {
        "edition": [f"/edition/{paper}/{day}?page={no}" for _, paper, day, no in picked],
        "article": [f"/article/{key}" for key, *_ in picked],
        "cluster": [f"/cluster/{key}" for key, *_ in picked],
        "search": [
            f"/search?q={quote(' '.join(rng.choice(words)[:2]))}&date_from=2024-01-01"
            for _ in picked
        ],
    }


def measure(n: int, requests: int, log) -> dict:
    with harness.scratch() as home, harness.s3_server(home, bucket=f"web-bench-{n}"):
        wanted = urls(build(n, log), requests)
        with served() as base, httpx.Client(base_url=base, timeout=120) as client:
            for path in (wanted[p][0] for p in PAGES):  # warm up each kind once
                client.get(path).raise_for_status()
            out = {}
            for page in PAGES:
                times = []
                for path in wanted[page]:
                    start = time.perf_counter()
                    client.get(path).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
                out[page] = {"p50": pct(times, 50), "p95": pct(times, 95)}
                log(f"  {page}: p50 {out[page]['p50']:.0f} ms, p95 {out[page]['p95']:.0f} ms")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, nargs=2, default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="2k and 20k articles")
    parser.add_argument("--requests", type=int, default=50, help="per page kind and size")
    args = parser.parse_args(argv)
    sizes = [2_000, 20_000] if args.quick else args.articles

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"{harness.machine_line()}\n{harness.command_line()}")
    results = {}
    for n in sizes:
        log(f"{n} articles:")
        results[n] = measure(n, args.requests, log)
    small, large = sizes
    rows = [
        [
            page,
            f"{results[small][page]['p50']:.0f}",
            f"{results[small][page]['p95']:.0f}",
            f"{results[large][page]['p50']:.0f}",
            f"{results[large][page]['p95']:.0f}",
            f"{results[large][page]['p95'] / results[small][page]['p95']:.2f}",
            "yes" if results[large][page]["p95"] < TARGET_P95_MS else "no",
        ]
        for page in PAGES
    ]
    headers = [
        "page",
        f"p50 ms @{small}",
        f"p95 ms @{small}",
        f"p50 ms @{large}",
        f"p95 ms @{large}",
        "p95 ratio",
        f"p95 < {TARGET_P95_MS} ms",
    ]
    print(harness.table(headers, rows, "lrrrrrl"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
