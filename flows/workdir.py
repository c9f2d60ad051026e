"""The work folder of one edition run: crawl output and the files each step writes.

Steps hand each other JSON-lines files rather than lists in memory, so a
100-page edition streams through the pipeline.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path


def epaper_home() -> Path:
    return Path(os.environ.get("EPAPER_HOME", ".epaper")).resolve()


def new_workdir(paper: str, date: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = epaper_home() / "work" / paper / date / stamp
    path.mkdir(parents=True)
    return path


def read_jsonl(path: Path) -> Iterator[dict]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def items(workdir: Path, kind: str) -> Iterator[dict]:
    """Crawl items of one `type` (page, article, missing, skipped)."""
    return (item for item in read_jsonl(workdir / "items.jsonl") if item.get("type") == kind)
