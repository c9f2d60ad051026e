"""WACZ packages of archived editions, for ReplayWeb.page (docs/wacz.md).

    with open_archive() as archive:
        package = build_wacz(archive, "whb", date(2025, 4, 28), out=Path("whb.wacz"))

py-wacz does the packaging and the validation (its CLI module, called as a library): the
edition's WARCs from the bucket, every capture of every crawl, go in as they are; its
pages.jsonl is ours, one line per archived article (url, capture time, title, cleaned text),
so that ReplayWeb.page's page list and its full-text search are the edition's articles, in
Chinese, whatever the page's charset (py-wacz's own text extraction reads UTF-8 only).
The capture time of an article comes from the edition's CDXJ in the bucket when publish wrote
one, else from indexing the WARCs here with cdxj-indexer.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from wacz import main as py_wacz
from warcio.timeutils import timestamp_to_iso_date

from dataset import cdxj
from storage import keys
from storage.archive import in_parallel
from storage.protocols import ObjectStore

PAGES_FORMAT = "json-pages-1.0"
# No media type is registered for WACZ; it is a ZIP file.
CONTENT_TYPE = "application/zip"


class NoEdition(LookupError):
    """Nothing archived to package: the message names the paper and the dates."""


class WaczError(RuntimeError):
    """py-wacz refused to build the package, or the package failed its validation."""


@dataclass
class Wacz:
    """A package written: where, what it holds, and the dates it had to leave out."""

    path: Path
    paper: str
    editions: list[str]  # dates packaged
    missing: list[str]  # dates of the range with no archived edition
    pages: int  # articles in pages.jsonl
    warcs: list[str]  # bucket keys of the WARCs packaged
    uncaptured: list[str] = field(default_factory=list)  # article URLs no WARC holds
    key: str | None = None  # where --to-bucket put it
    version_id: str | None = None


def month_range(month: str) -> tuple[date, date]:
    """First and last day of YYYY-MM."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise ValueError(f"bad month {month!r}: expected YYYY-MM") from None
    return first, first.replace(day=calendar.monthrange(year, number)[1])


def days(start: date, end: date) -> list[str]:
    if end < start:
        raise ValueError(f"bad range {start}..{end}: it ends before it starts")
    return [(start + timedelta(n)).isoformat() for n in range((end - start).days + 1)]


def spans(dates: list[str]) -> str:
    """Sorted dates as runs: "2025-04-30..2025-05-02, 2025-05-09"."""
    runs: list[list[date]] = []
    for day in map(date.fromisoformat, dates):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1][1:] = [day]
        else:
            runs.append([day])
    return ", ".join("..".join(d.isoformat() for d in run) for run in runs)


def archived_dates(archive: ObjectStore, paper: str, start: date, end: date) -> list[str]:
    """Dates of `paper` in start..end with an edition manifest in the bucket."""
    prefix = f"editions/{keys.paper_id(paper)}/"
    listed = {key.removeprefix(prefix) for key in archive.list(prefix)}
    return [day for day in days(start, end) if f"{day}/manifest.json" in listed]


def page_entries(
    articles: Iterable[dict], captures: Iterable[dict]
) -> tuple[list[dict], list[str]]:
    """pages.jsonl lines of an edition's articles, each at its newest full capture (a 200
    response, not a revisit: a revisit of an old WARC may replay blank), and the URLs of the
    articles no capture has."""
    newest: dict[str, str] = {}
    for capture in captures:
        if capture.get("status") == "200" and capture.get("mime") != "warc/revisit":
            url, ts = capture["url"], capture["timestamp"]
            newest[url] = max(ts, newest.get(url, ts))
    pages, uncaptured = [], []
    for article in articles:
        ts = newest.get(article["url"])
        if ts is None:
            uncaptured.append(article["url"])
            continue
        pages.append(
            {
                "id": article["key"],
                "url": article["url"],
                "ts": timestamp_to_iso_date(ts),
                "title": article.get("title") or article["url"],
                "text": article.get("text") or "",
            }
        )
    return pages, uncaptured


def parse_cdxj(lines: Iterable[str]) -> Iterator[dict]:
    """CDXJ lines (`surt timestamp {json}`) as their JSON with the timestamp in it."""
    for line in lines:
        if line.strip() and not line.startswith("!"):
            _surt, timestamp, block = line.split(" ", 2)
            yield {**json.loads(block), "timestamp": timestamp}


def edition_captures(
    archive: ObjectStore, paper: str, day: str, listed: list[str], warcs: dict[str, Path]
) -> list[dict]:
    """The captures of an edition: from its merged CDXJ in the bucket, else from each WARC's
    CDXJ beside it, else from the WARCs by cdxj-indexer (DamagedWarc names a damaged one)."""
    merged = [key for key in listed if key == keys.edition_index(paper, day)]
    beside = [keys.warc_index(key) for key in warcs]
    if merged or all(key in listed for key in beside):
        data = b"".join(archive.get(key) for key in merged or beside)
    else:
        data = b"".join(cdxj.index_warc(path, key) for key, path in warcs.items())
    return list(parse_cdxj(data.decode("utf-8").splitlines()))


def local_name(paper: str, day: str, key: str) -> str:
    """A WARC's file name inside the package, unique across editions: the conventional
    name (paper-timestamp-serial) as it is, an old bare-timestamp one prefixed."""
    name = key.rsplit("/", 1)[-1]
    return name if name.startswith(f"{paper}-") else f"{paper}-{day}-{name}"


def run_py_wacz(*argv: str) -> None:
    """py-wacz's CLI as a library; its chatter kept off our stdout, its last line the error."""
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        code = py_wacz.main(list(argv))
    if code != 0:
        lines = said.getvalue().strip().splitlines() or [f"exit {code}"]
        raise WaczError(f"wacz {argv[0]}: {lines[-1]}")


def build_wacz(
    archive: ObjectStore,
    paper: str,
    start: date,
    end: date | None = None,
    out: Path | None = None,
    to_bucket: bool = False,
) -> Wacz:
    """A validated WACZ of `paper`'s editions start..end (one edition without `end`) at
    `out` (default: the current folder, named as its bucket key); with `to_bucket` also
    written to keys.edition_wacz. NoEdition when none of those dates was archived."""
    end = end or start
    key = keys.edition_wacz(paper, start, end)
    out = out or Path(f"{paper}-{key.rsplit('/', 1)[-1]}")
    dates = archived_dates(archive, paper, start, end)
    if not dates:
        span = start.isoformat() if start == end else f"{start}..{end}"
        raise NoEdition(f"no archived edition of {paper} on {span}")
    missing = [day for day in days(start, end) if day not in dates]
    package = Wacz(out, paper, dates, missing, pages=0, warcs=[])
    files: dict[str, Path] = {}  # WARC key -> its download
    with tempfile.TemporaryDirectory(prefix="epaper-wacz-") as tmp:
        folder = Path(tmp)
        header = {"format": PAGES_FORMAT, "id": "pages", "title": title(paper, dates)}
        lines = [{**header, "hasText": True}]  # ReplayWeb.page's full-text search reads it
        for day in dates:
            pages, uncaptured, warcs = edition_pages(archive, paper, day, folder)
            lines += pages
            package.uncaptured += uncaptured
            files.update(warcs)
        package.warcs = list(files)
        package.pages = len(lines) - 1
        pages_file = folder / "pages.jsonl"
        pages_file.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines),
            encoding="utf-8",
        )
        made = folder / "package.wacz"  # moved to `out` once valid: a failure leaves no file
        create = (
            "create",
            "-o",
            str(made),
            "--pages",
            str(pages_file),
            "--copy-pages",  # ours as they are: py-wacz would drop the text and hasText
            "--title",
            header["title"],
            "--desc",
            f"{package.pages} articles of {len(dates)} archived editions of {paper}"
            + (f"; no edition archived on {spans(missing)}" if missing else ""),
            *(str(path) for path in files.values()),
        )
        try:
            run_py_wacz(*create)
            run_py_wacz("validate", "-f", str(made))
        except Exception:  # py-wacz fails (or validate, on a truncated WARC) without a name
            for key, path in files.items():  # DamagedWarc names the damaged object
                cdxj.index_warc(path, key)
            raise
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(made, out)
    if to_bucket:
        put = archive.put_file(key, out, CONTENT_TYPE)
        package.key, package.version_id = key, put.version_id
    return package


def edition_pages(
    archive: ObjectStore, paper: str, day: str, folder: Path
) -> tuple[list[dict], list[str], dict[str, Path]]:
    """pages.jsonl lines of one edition, the article URLs no capture has, and its WARCs
    (key -> file), which it downloads into `folder`."""
    manifest = json.loads(archive.get(keys.edition_manifest(paper, day)))
    listed = list(archive.list(keys.edition_index(paper, day).rsplit("/", 1)[0] + "/"))
    ordered = sorted(filter(keys.is_raw_warc, listed), key=keys.warc_order)
    warcs = {key: folder / local_name(paper, day, key) for key in ordered}
    for key, path in warcs.items():
        path.write_bytes(archive.get(key))
    # The articles as this edition published them: the versions its manifest names.
    entries = manifest["articles"]
    bodies = in_parallel(
        [lambda e=e: archive.get(e["key"], version_id=e.get("version_id")) for e in entries]
    )
    articles = [{**json.loads(body), "key": e["key"]} for e, body in zip(entries, bodies)]
    pages, uncaptured = page_entries(articles, edition_captures(archive, paper, day, listed, warcs))
    return pages, uncaptured, warcs


def title(paper: str, dates: list[str]) -> str:
    return f"{paper} {dates[0]}" if len(dates) == 1 else f"{paper} {dates[0]} to {dates[-1]}"
