"""Exports of the archive as a dataset: one row per article, as JSON Lines, CSV or Parquet.

    with open_archive() as archive, Catalog() as catalog:
        rows = edition_rows(archive, catalog, paper="whb", date_from="2025-01-01")
        write_rows(rows, "parquet", "whb-2025.parquet")

The schema (`SCHEMA`, documented in docs/exports.md) is one for every format: the article
JSON's fields as archived (its latest version), its cluster as the catalog holds it now, and
the keys of what it came from (its WARC record, the page PDF, the article's version).
Rows are streamed: a few dozen articles are read at a time and Parquet is written in row
groups, so a paper-year never sits in memory. A file is written beside its target and
renamed onto it when complete: a failed export leaves nothing behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from storage import keys as object_keys
from storage.archive import ObjectNotFound, in_parallel

log = logging.getLogger(__name__)

# Articles read at once (their S3 round trips overlap); rows per Parquet row group.
READ_AT_ONCE = 32
ROW_GROUP = 2048

_TEXT = pa.string()
_TIME = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("key", _TEXT),
        ("paper", _TEXT),
        ("date", pa.date32()),
        ("page_no", pa.int32()),
        ("page_name", _TEXT),
        ("url", _TEXT),
        ("kicker", _TEXT),
        ("title", _TEXT),
        ("subtitle", _TEXT),
        ("author", _TEXT),
        ("source", _TEXT),
        ("paragraphs", pa.list_(_TEXT)),
        ("text", _TEXT),
        ("images", pa.list_(pa.struct([("url", _TEXT), ("caption", _TEXT)]))),
        ("keywords", pa.list_(_TEXT)),
        ("warnings", pa.list_(_TEXT)),
        ("sha256", _TEXT),
        ("cluster", _TEXT),
        ("canonical", _TEXT),
        ("similarity", pa.float64()),
        ("cluster_size", pa.int32()),
        ("zone", pa.struct([("shape", _TEXT), ("coords", pa.list_(pa.int32()))])),
        ("version_id", _TEXT),
        ("archived_at", _TIME),
        ("edition_status", _TEXT),
        ("pdf_key", _TEXT),
        ("image_key", _TEXT),
        ("warc_key", _TEXT),
        ("warc_offset", pa.int64()),
        ("warc_length", pa.int64()),
        ("captured_at", _TIME),
    ]
)
# Taken from the article JSON as archived; an older article without one of them has null.
_ARTICLE_FIELDS = (
    "paper",
    "page_no",
    "page_name",
    "url",
    "kicker",
    "title",
    "subtitle",
    "author",
    "source",
    "paragraphs",
    "text",
    "keywords",
    "warnings",
    "sha256",
)


class ExportError(ValueError):
    """An export that cannot be made as asked; the message says why, in one line."""


# -- rows ----------------------------------------------------------------------------


def edition_manifests(archive, paper: str | None = None, date_from=None, date_to=None) -> list[str]:
    """Manifest keys of the archived editions of `paper` (every paper: None) from
    `date_from` to `date_to` (inclusive, either open), in key order."""
    low = object_keys.edition_date(date_from) if date_from else ""
    high = object_keys.edition_date(date_to) if date_to else "9999-12-31"
    if low > high:
        raise ExportError(f"date range the wrong way round: {low} is after {high}")
    prefix = f"editions/{object_keys.paper_id(paper)}/" if paper else "editions/"
    return [
        key
        for key in archive.list(prefix)
        if key.endswith("/manifest.json") and low <= key.split("/")[2] <= high
    ]


def edition_rows(
    archive, catalog, paper: str | None = None, date_from=None, date_to=None
) -> Iterator[dict]:
    """A row per article of `paper`'s editions (every paper's: None) from `date_from` to
    `date_to`; a bad range fails at the call, the rows come as they are read."""
    return manifest_rows(archive, catalog, edition_manifests(archive, paper, date_from, date_to))


def manifest_rows(archive, catalog, manifest_keys: Iterable[str]) -> Iterator[dict]:
    """A row per article of these editions, edition by edition, in each its manifest's
    order (page, key)."""
    for manifest_key in manifest_keys:
        edition = _edition(archive, json.loads(archive.get(manifest_key)))
        yield from _rows(archive, catalog, ((a["key"], edition) for a in edition["articles"]))


def rows_for_keys(archive, catalog, keys: Iterable[str]) -> Iterator[dict]:
    """A row per article key, in the order given (a cluster's members, a search's hits);
    a key this bucket lacks (a catalog shared by several buckets) is left out, with a
    warning."""

    @lru_cache(maxsize=256)  # keys of a cluster or a result share a few editions each
    def edition_of(manifest_key: str) -> dict:
        try:
            return _edition(archive, json.loads(archive.get(manifest_key)))
        except ObjectNotFound:
            return _edition(archive, {})

    return _rows(archive, catalog, ((key, edition_of(_manifest_of(key))) for key in keys))


def _manifest_of(article_key: str) -> str:
    """articles/{paper}/{date}/{page}/{id}.json → its edition's manifest key."""
    parts = article_key.split("/")
    if len(parts) != 5 or parts[0] != "articles" or not parts[4].endswith(".json"):
        raise ExportError(f"not an article key: {article_key!r} (articles/P/D/PAGE/ID.json)")
    return object_keys.edition_manifest(parts[1], parts[2])


def _edition(archive, manifest: dict) -> dict:
    """What each row takes from its edition (its manifest and its captures), worked out
    once per edition."""
    crawl = manifest.get("crawl") or {}
    started = crawl.get("started")
    articles = manifest.get("articles", [])
    return {
        "articles": articles,
        "pages": {page["page_no"]: page for page in manifest.get("pages", [])},
        "edition_status": manifest.get("status"),
        # an edition archived before the CDXJ indexes: its latest crawl, where it began
        "crawl": {
            "warc_key": crawl.get("warc_key"),
            "warc_offset": None,
            "warc_length": None,
            "captured_at": dt.datetime.fromisoformat(started) if started else None,
        },
        "captures": _captures(archive, manifest, {a["url"] for a in articles}),
    }


def _captures(archive, manifest: dict, urls: set[str]) -> dict[str, dict]:
    """Where each of `urls` was captured, from the edition's merged CDXJ index
    (dataset/cdxj.py): the latest record holding its response (a revisit holds none: its
    payload is in the earlier record it names; an error answer holds no article), so an article
    an earlier crawl fetched and the latest did not is found in that crawl's WARC. Empty for an
    edition without the index."""
    if not urls:
        return {}
    try:
        index = archive.get(object_keys.edition_index(manifest["paper"], manifest["date"]))
    except ObjectNotFound:
        return {}
    found = {}
    for line in index.decode("utf-8").splitlines():  # sorted: by URL, then time
        _, timestamp, fields = line.split(" ", 2)
        record = json.loads(fields)
        if (
            record["url"] in urls
            and record.get("mime") != "warc/revisit"
            and record.get("status", "").startswith("2")  # not a failed fetch's answer
        ):
            found[record["url"]] = {
                "warc_key": f"raw/{record['filename']}",  # filenames are relative to raw/
                "warc_offset": int(record["offset"]),
                "warc_length": int(record["length"]),
                "captured_at": dt.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(
                    tzinfo=dt.timezone.utc
                ),
            }
    return found


def _rows(archive, catalog, listed: Iterable[tuple[str, dict]]) -> Iterator[dict]:
    """Rows of (article key, its edition) pairs: READ_AT_ONCE articles at a time, read in
    parallel, with one catalog query per batch."""
    listed = iter(listed)
    while batch := list(islice(listed, READ_AT_ONCE)):
        keys = [key for key, _ in batch]
        records = _catalog_records(catalog, keys)
        read = in_parallel(partial(_read_latest, archive, key) for key in keys)
        for (key, edition), found in zip(batch, read):
            if found is None:
                log.warning("%s is not in the archive: left out of the export", key)
                continue
            yield _row(key, *found, edition, records.get(key))


def _read_latest(archive, key: str) -> tuple[dict, dict] | None:
    """The latest version of an article: its stat (version id, time) and its JSON."""
    try:
        stat = archive.stat(key)
        return stat, json.loads(archive.get(key, version_id=stat["version_id"]))
    except ObjectNotFound:
        return None


def _catalog_records(catalog, keys: list[str]) -> dict[str, dict]:
    """The catalog's current record (cluster, canonical, similarity, cluster_size) of each
    key it knows (none without a catalog): a later correction of a canonical changes them,
    not the archived JSON."""
    if catalog is None:
        return {}
    from storage.catalog import articles as t  # here: it pulls in MinHash, for a catalog user

    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.key, t.c.cluster, t.c.canonical, t.c.similarity).where(t.c.key.in_(keys))
        ).all()
        sizes = dict(
            conn.execute(
                select(t.c.cluster, func.count())
                .where(t.c.cluster.in_(sorted({r.cluster for r in rows})))
                .group_by(t.c.cluster)
            ).all()
        )
    return {
        r.key: {
            "cluster": r.cluster,
            "canonical": r.canonical,
            "similarity": r.similarity,
            "cluster_size": sizes[r.cluster],
        }
        for r in rows
    }


def _row(key: str, stat: dict, article: dict, edition: dict, record: dict | None) -> dict:
    # An article the catalog does not know (another machine's catalog): as archived.
    dedupe = record or {**article.get("dedupe", {}), "cluster_size": None}
    page = edition["pages"].get(article.get("page_no"), {})
    row = {
        "key": key,
        **{name: article.get(name) for name in _ARTICLE_FIELDS},
        "date": dt.date.fromisoformat(article["date"]),
        # the schema's members only, so that every format holds the same
        "images": [
            {"url": image.get("url"), "caption": image.get("caption")}
            for image in article.get("images") or []
        ],
        "zone": {"shape": zone.get("shape"), "coords": zone.get("coords")}
        if (zone := article.get("zone"))
        else None,
        "cluster": dedupe.get("cluster"),
        "canonical": dedupe.get("canonical"),
        "similarity": dedupe.get("similarity"),
        "cluster_size": dedupe["cluster_size"],
        "version_id": stat["version_id"],
        "archived_at": stat["last_modified"],
        "edition_status": edition["edition_status"],
        "pdf_key": page.get("pdf_key"),
        "image_key": page.get("image_key"),
        **edition["captures"].get(article.get("url"), edition["crawl"]),
    }
    return {name: row[name] for name in SCHEMA.names}


# -- formats -------------------------------------------------------------------------


def _plain(value):
    """A row value as JSON has it: dates and times in ISO 8601."""
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not exportable")


def _write_jsonl(rows: Iterable[dict], out: BinaryIO) -> int:
    n = 0
    for n, row in enumerate(rows, 1):
        line = json.dumps(
            {name: row[name] for name in SCHEMA.names}, ensure_ascii=False, default=_plain
        )
        out.write(line.encode("utf-8") + b"\n")
    return n


def _csv_cell(value) -> str:
    """Lists and structs as JSON text; null as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _write_csv(rows: Iterable[dict], out: BinaryIO) -> int:
    # UTF-8 with a BOM: Excel reads a CSV without one in the machine's ANSI code page
    # (mojibake for Chinese); pandas, DuckDB and Python's utf-8-sig skip the BOM.
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)  # RFC 4180: quoted cells, CRLF rows, newlines kept in cells
        writer.writerow(SCHEMA.names)
        n = 0
        for n, row in enumerate(rows, 1):
            writer.writerow([_csv_cell(row[name]) for name in SCHEMA.names])
        text.flush()
        return n
    finally:
        text.detach()  # the caller's file stays open


def _write_parquet(rows: Iterable[dict], out: BinaryIO) -> int:
    n = 0
    with pq.ParquetWriter(out, SCHEMA, compression="zstd") as writer:
        rows = iter(rows)
        while group := list(islice(rows, ROW_GROUP)):
            writer.write_table(pa.Table.from_pylist(group, schema=SCHEMA))
            n += len(group)
    return n


@dataclass(frozen=True)
class Format:
    name: str
    write: Callable[[Iterable[dict], BinaryIO], int]
    stream: bool  # can go to a pipe: Parquet's readers seek to its footer, so it cannot


FORMATS = {
    f.name: f
    for f in (
        Format("jsonl", _write_jsonl, stream=True),
        Format("csv", _write_csv, stream=True),
        Format("parquet", _write_parquet, stream=False),
    )
}


def format_of(name: str | None, path: str | os.PathLike | None = None) -> Format:
    """The format named, else the one `path`'s suffix names."""
    if name is None:
        name = Path(path).suffix.lstrip(".").lower() if path is not None else ""
        if name not in FORMATS:
            where = f" for {os.fspath(path)}" if path is not None else ""
            raise ExportError(f"which export format{where}? one of {', '.join(FORMATS)}")
    if name not in FORMATS:
        raise ExportError(f"unknown export format {name!r}: one of {', '.join(FORMATS)}")
    return FORMATS[name]


@contextmanager
def output(path: str | os.PathLike, force: bool = False) -> Iterator[BinaryIO]:
    """A binary file for an export to `path`: a new file beside it, renamed onto `path`
    when the block ends well and removed when it does not, so no half-written file is ever
    left. An existing `path` is refused unless `force`."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name")
    if path.exists() and not force:
        raise ExportError(f"{path} exists: --force replaces it")
    part = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        # 0o666 less the umask, as a file the user made; O_EXCL: never someone else's
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileNotFoundError:
        raise ExportError(f"cannot write {path}: no folder {path.parent}") from None
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(part, path)
    except BaseException:  # an interrupt too
        part.unlink(missing_ok=True)
        raise


def write_rows(
    rows: Iterable[dict], fmt: str, out: str | os.PathLike | BinaryIO, force: bool = False
) -> int:
    """Write `rows` as `fmt` to `out` (a path, or a binary file left open); the number of
    rows written."""
    chosen = format_of(fmt)
    if isinstance(out, (str, os.PathLike)):
        with output(out, force) as file:
            return chosen.write(rows, file)
    if not chosen.stream and not out.seekable():
        raise ExportError(f"{chosen.name} cannot go to a pipe: write it to a file")
    return chosen.write(rows, out)
