"""The work folder of one edition run: crawl output and the files each step writes.

Steps hand each other JSON-lines files rather than lists in memory, so a
100-page edition streams through the pipeline.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

# Held (flock) by the run that owns a work folder: the kernel lets go of it when that
# process dies, however it dies, so a later run can tell an abandoned folder from a live one.
OWNER_LOCK = ".owner.lock"
# A folder without a lock file is one being created, or one older than the lock file.
UNLOCKED_GRACE_S = 24 * 3600


def epaper_home() -> Path:
    return Path(os.environ.get("EPAPER_HOME", ".epaper")).resolve()


def new_workdir(paper: str, date: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = epaper_home() / "work" / paper / date / stamp
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def edition_workdir(paper: str, date: str) -> Iterator[Path]:
    """A fresh work folder for one run, owned while the run lives and removed when it ends
    well. A failed run's folder stays for inspection; the next run sweeps it, and the
    folders of runs that were killed, first."""
    sweep_abandoned()
    path = new_workdir(paper, date)
    claimed = path / f"{OWNER_LOCK}.new"
    with claimed.open("w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Named only once held: a sweep between creating and locking it would take the folder.
        claimed.rename(path / OWNER_LOCK)
        yield path
    shutil.rmtree(path)


def sweep_abandoned() -> list[Path]:
    """Remove the work folders no live run owns; returns them."""
    swept = []
    for path in (epaper_home() / "work").glob("*/*/*"):
        try:
            owner = (path / OWNER_LOCK).open("r")
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):  # another run swept it meanwhile
                if time.time() - path.stat().st_mtime > UNLOCKED_GRACE_S:
                    shutil.rmtree(path, ignore_errors=True)
                    swept.append(path)
            continue
        with owner:
            try:
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run's
            shutil.rmtree(path, ignore_errors=True)
            swept.append(path)
    return swept


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
