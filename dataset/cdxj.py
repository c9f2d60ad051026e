"""CDXJ indexes of the archived WARCs, by cdxj-indexer (pywb's own indexer).

Each WARC `raw/{paper}/{date}/….warc.gz` gets its index beside it (`….cdxj`), and each
edition a merged `raw/{paper}/{date}/index.cdxj` of all its WARCs, which is what pywb
loads: a revisit in one crawl's WARC finds its original in an earlier one through it.
The `filename` of every line is relative to `raw/`, so pywb reads the WARCs with
`archive_paths: s3://BUCKET/raw/` (or any copy of that folder).
"""

from __future__ import annotations

import gzip
import io
import logging
import tempfile
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

from storage import keys
from storage.archive import Archive, ArchiveError

log = logging.getLogger(__name__)
CDXJ_TYPE = "text/x-cdxj; charset=utf-8"


class WarcIndexer(CDXJIndexer):
    """cdxj-indexer as its command line runs it. Importing py-wacz appends `warcinfo` to
    the base class's default record types; our indexes must not depend on import order."""

    DEFAULT_RECORDS = ["response", "revisit", "resource", "metadata"]


class DamagedWarc(ArchiveError):
    """A WARC that cdxj-indexer cannot read through: damaged or not a WARC."""


def relative_name(warc_key: str) -> str:
    """A WARC's name in CDXJ lines and for pywb: its key below `raw/`."""
    return warc_key.removeprefix("raw/")


def index_warc(path: Path, warc_key: str) -> bytes:
    """The sorted CDXJ index of one WARC file; DamagedWarc names the key if unreadable."""
    out = io.StringIO()
    try:
        with gzip.open(path, "rb") as whole:  # warcio stops quietly where a truncated file ends
            while whole.read(1 << 20):
                pass
        with path.open("rb") as stream:
            WarcIndexer(out, [stream], sort=True, filename=relative_name(warc_key)).process_all()
    except Exception as exc:  # warcio and zlib raise anything on damaged bytes
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise DamagedWarc(f"{warc_key}: damaged WARC, cdxj-indexer failed ({reason})") from None
    data = out.getvalue().encode("utf-8")
    if not data:
        raise DamagedWarc(f"{warc_key}: damaged WARC, no record to index")
    return data


def merge(indexes: list[bytes]) -> bytes:
    """One sorted CDXJ of several (pywb binary-searches a sorted file)."""
    lines = {line for data in indexes for line in data.splitlines() if line.strip()}
    return b"".join(line + b"\n" for line in sorted(lines))


def edition_warcs(archive: Archive, paper: str, date: str) -> list[str]:
    """The edition's WARC keys, oldest crawl first, in either name form."""
    folder = keys.edition_index(paper, date).rsplit("/", 1)[0] + "/"
    return sorted((k for k in archive.list(folder) if keys.is_raw_warc(k)), key=keys.warc_order)


def warc_cdxj(archive: Archive, warc_key: str, path: Path | None = None) -> bytes:
    """The WARC's index from beside it in the bucket, else made from the WARC (from `path`
    when given, else downloaded) and stored beside it. DamagedWarc on a damaged WARC."""
    index_key = keys.warc_index(warc_key)
    if path is None and archive.exists(index_key):
        return archive.get(index_key)
    with tempfile.TemporaryDirectory(prefix="epaper-cdxj-") as tmp:
        if path is None:
            path = Path(tmp) / "warc.warc.gz"
            path.write_bytes(archive.get(warc_key))
        data = index_warc(path, warc_key)
    archive.put(index_key, data, CDXJ_TYPE)
    return data


def publish_indexes(archive: Archive, paper: str, date: str, warc_key: str, path: Path) -> str:
    """At publish: the new WARC's index beside it, then the edition's merged index (earlier
    WARCs without one, archived before indexes existed, are indexed now; a damaged one is
    left out with a warning: it must not stop a new crawl from being published)."""
    indexes = [warc_cdxj(archive, warc_key, path)]
    for other in edition_warcs(archive, paper, date):
        if other == warc_key:
            continue
        try:
            indexes.append(warc_cdxj(archive, other))
        except DamagedWarc as exc:
            log.warning("edition index of %s %s leaves out %s", paper, date, exc)
    merged_key = keys.edition_index(paper, date)
    archive.put(merged_key, merge(indexes), CDXJ_TYPE)
    return merged_key
