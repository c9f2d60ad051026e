"""Export throughput and memory: rows/s and peak RSS of each format written by
dataset.export.write_rows, at two sizes, beside Parquet built as one table in memory.

    python -m bench.export_bench [--rows N] [--contenders "rows only" parquet] [--workdir DIR]

The rows are synthetic but shaped like the archive's (replica local stories: Chinese
paragraphs, keywords, images, the capture's keys), made one at a time as the export reads
them. Each measurement runs in a process of its own, so its peak RSS is its own; "rows only"
makes and drops the rows, the cost every format pays before writing. A streamed writer's
peak RSS does not grow with the rows (the ratio of the two sizes stays near 1); the
whole-table contender's does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.harness import command_line, machine_line
from dataset import export
from replica.edition import local_story

PAPER = "bench-paper"
PER_EDITION = 40  # articles an edition


def synthetic_rows(n: int) -> Iterator[dict]:
    """n export rows of a paper's editions, made lazily and deterministically."""
    first = dt.date(2025, 1, 1)
    for i in range(n):
        day = first + dt.timedelta(days=i // PER_EDITION)
        slot = i % PER_EDITION
        story = local_story("bcrb", day, slot)
        rng = random.Random(i)
        key = f"articles/{PAPER}/{day}/{slot // 8 + 1:02d}/content_{i}.json"
        crawled = dt.datetime.combine(day, dt.time(6, 30), tzinfo=dt.timezone.utc)
        text = "\n".join(story.paragraphs)
        yield {
            "key": key,
            "paper": PAPER,
            "date": day,
            "page_no": slot // 8 + 1,
            "page_name": "要闻",
            "url": f"http://127.0.0.1/{PAPER}/content_{i}.html",
            "kicker": story.kicker,
            "title": story.title,
            "subtitle": story.subtitle,
            "author": story.author,
            "source": story.source,
            "paragraphs": list(story.paragraphs),
            "text": text,
            "images": [{"url": f"http://127.0.0.1/img/{i}.jpg", "caption": story.title}]
            if rng.random() < 0.3
            else [],
            "keywords": rng.sample(text[:200], 5),
            "warnings": [],
            "sha256": f"{rng.getrandbits(256):064x}",
            "cluster": key,
            "canonical": key,
            "similarity": 1.0,
            "cluster_size": 1,
            "zone": {"shape": "rect", "coords": [10, 20, 300, 400]},
            "version_id": f"{rng.getrandbits(128):032x}",
            "archived_at": crawled + dt.timedelta(minutes=2),
            "edition_status": "complete",
            "pdf_key": f"pdfs/{PAPER}/{day}/{slot // 8 + 1:02d}.pdf",
            "image_key": None,
            "warc_key": f"raw/{PAPER}/{day}/{PAPER}-{crawled:%Y%m%d%H%M%S}-00000.warc.gz",
            "warc_offset": slot * 4096,
            "warc_length": 2000 + len(text),
            "captured_at": crawled,
        }


def _one_table(rows, out) -> int:
    """The contender that does not stream: every row in one Arrow table, then written."""
    table = pa.Table.from_pylist(list(rows), schema=export.SCHEMA)
    pq.write_table(table, out, compression="zstd")
    return table.num_rows


def _rows_only(rows, out) -> int:
    return sum(1 for _ in rows)


CONTENDERS = {
    "rows only": _rows_only,
    **{name: f.write for name, f in export.FORMATS.items()},
    "parquet, one table": _one_table,
}


def child(name: str, n: int, path: Path) -> None:
    """One measurement, in this process: prints seconds, peak RSS and file size as JSON."""
    CONTENDERS[name](synthetic_rows(1), io.BytesIO())  # lazy imports and caches, untimed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with open(path, "wb") as out:
        written = CONTENDERS[name](synthetic_rows(n), out)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    assert written == n, (name, written, n)
    print(
        json.dumps(
            {"seconds": seconds, "peak_kib": peak, "base_kib": before, "bytes": path.stat().st_size}
        )
    )


def measure(name: str, n: int, folder: Path) -> dict:
    path = folder / f"{name.replace(', ', '-').replace(' ', '-')}-{n}.out"
    run = subprocess.run(
        [sys.executable, "-m", "bench.export_bench", "--child", name, str(n), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    path.unlink()
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the larger export")
    parser.add_argument("--workdir", type=Path, help="where the files go (default: a temp dir)")
    parser.add_argument(
        "--contenders",
        nargs="+",
        default=list(CONTENDERS),
        metavar="NAME",
        help=f"what to measure, of: {'; '.join(CONTENDERS)} (default all)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CONTENDER", "ROWS", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        name, n, path = args.child
        child(name, int(n), Path(path))
        return
    sizes = (args.rows // 5, args.rows)
    names = args.contenders
    if unknown := [name for name in names if name not in CONTENDERS]:
        parser.error(f"--contenders: unknown {', '.join(unknown)}; known: {'; '.join(CONTENDERS)}")
    print(f"export bench: {command_line()}")
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="export-bench-", dir=args.workdir) as tmp:
        results = {(name, n): measure(name, n, Path(tmp)) for name in names for n in sizes}
    print("| contender            |    rows | seconds |  rows/s | peak RSS MiB | file MiB |")
    print("|----------------------|--------:|--------:|--------:|-------------:|---------:|")
    for (name, n), r in results.items():
        print(
            f"| {name:<20} | {n:>7} | {r['seconds']:>7.1f} | {n / r['seconds']:>7.0f} | "
            f"{r['peak_kib'] / 1024:>12.0f} | {r['bytes'] / 2**20:>8.1f} |"
        )
    small, large = sizes
    ratios = ", ".join(
        f"{name} {results[name, large]['peak_kib'] / results[name, small]['peak_kib']:.2f}"
        for name in names
    )
    print(f"peak RSS at {large} rows / at {small} rows: {ratios}")
    if "rows only" not in names:
        return
    base = results["rows only", large]
    cost = ", ".join(
        f"{name} {(results[name, large]['seconds'] - base['seconds']) / large * 1e6:.0f}"
        for name in export.FORMATS
        if name in names
    )
    print(f"writing alone, µs per row (time less rows only's): {cost}")


if __name__ == "__main__":
    main()
