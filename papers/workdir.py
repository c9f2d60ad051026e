"""The work folder of one edition run: crawl output and the files each step writes.

Steps hand each other JSON-lines files rather than lists in memory, so a
100-page edition streams through the pipeline. A full disk is named as such (NoSpace,
with the path), and so is a file a full disk cut short, never as a JSON parse error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from papers.home import epaper_home


class Workdir:
    """The names of the files in a run's work folder (docs/internals.md, "Crawl output").
    The crawl writes the first five, the flow's steps the rest."""

    ITEMS = "items.jsonl"  # the crawl's items, one JSON object a line
    FILES = "files"  # page PDFs; a page item's pdf_path is relative to the work folder
    WARC = "crawl.warc.gz"  # every request and response
    LOG = "crawl.log"
    STATS = "stats.json"
    CLEANED = "cleaned.jsonl"  # clean → dedupe
    DEDUPED = "deduped.jsonl"  # dedupe → publish and the report
    PREVIOUS = "previous"  # the archived crawl's WARC files, to revalidate or replay


# Held (flock) by the run that owns a work folder: the kernel lets go of it when that
# process dies, however it dies, so a later run can tell an abandoned folder from a live one.
OWNER_LOCK = ".owner.lock"
# A folder without a lock file is one being created, or one older than the lock file.
UNLOCKED_GRACE_S = 24 * 3600


def nearly_full(free: int, total: int) -> bool:
    """So little space that a failed write or a cut-short file is put down to a full disk
    (1% is what SeaweedFS keeps free by default, too)."""
    return free < max(1 << 20, total // 100)


class NoSpace(OSError):
    """A write failed for want of space; the message names the path."""

    def __init__(self, path: Path, free: int | None = None):
        detail = f" ({free} bytes free)" if free is not None else ""
        super().__init__(f"no space left on device: {path}{detail}")
        self.errno, self.path, self.free = errno.ENOSPC, path, free

    def __reduce__(self):  # Prefect pickles a task's exception: rebuild it from its parts
        return NoSpace, (self.path, self.free)


class DamagedFile(ValueError):
    """A work file that is not whole JSON lines; the message names it."""


def disk_usage(path: Path):
    """shutil.disk_usage of the file system of `path` (or of its nearest existing parent)."""
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder)
        except OSError:
            continue
    return None


def free_bytes(path: Path) -> int | None:
    usage = disk_usage(path)
    return usage.free if usage else None


def raise_if_full(path: Path, exc: BaseException) -> None:
    """Raise NoSpace naming `path` if `exc` is, or may well come from, a full disk there."""
    usage = disk_usage(path)
    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or (
        usage is not None and nearly_full(usage.free, usage.total)
    ):
        raise NoSpace(path, usage.free if usage else None) from exc


@contextlib.contextmanager
def named_if_full(path: Path) -> Iterator[None]:
    """Writes to `path`: ENOSPC becomes NoSpace naming it (Python's error names no file)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpace(path, free_bytes(path)) from exc
        raise


def new_workdir(paper: str, date: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = epaper_home() / "work" / paper / date / stamp
    with named_if_full(path):
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
    with named_if_full(claimed):
        owner = claimed.open("w")
    with owner:
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
        number = 0
        try:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield json.loads(line)
        except ValueError as exc:  # JSON or UTF-8 cut off mid-record
            raise_if_full(path, exc)
            bad_json = isinstance(exc, json.JSONDecodeError)
            where = f"line {number}" if bad_json else f"after line {number}"
            raise DamagedFile(
                f"{path} {where}: not whole JSON ({exc}); "
                "cut short by a full disk or a killed writer?"
            ) from exc


def write_jsonl(path: Path, records: Iterable[dict]) -> int:
    count = 0
    with named_if_full(path), path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def items(workdir: Path, kind: str) -> Iterator[dict]:
    """Crawl items of one `type` (page, article, missing, skipped)."""
    return (item for item in read_jsonl(workdir / Workdir.ITEMS) if item.get("type") == kind)
