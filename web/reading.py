"""What the reading room shows, read from the archive and the catalog: plain functions that
return plain data, one per page, shared by the HTML pages and the JSON API.

Everything here only reads. Fields that newer crawls add (a page's `image_key`, `width`,
`height`, `kind`; an article's `zone`, `kind`) are optional: an older archive lacks them.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import io
import json
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from papers.catalogue import Paper
from storage import keys
from storage.archive import ObjectNotFound, in_parallel
from storage.health import due_dates, failed_checks
from storage.protocols import ObjectStore
from web.diff import article_diff

# Objects the reading room streams to the browser, by key prefix, with the type it sends
# (never the type the bucket stored: a hostile site chose that).
FILE_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".warc.gz": "application/warc",
    ".cdxj": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
FILE_PREFIXES = ("pdfs/", "pages/", "raw/")


class ReadOnce:
    """`target` whose methods `names` answer each argument once, then from memory: one
    page's readers (a cluster's timeline and its aligned evidence) share the objects and
    the catalog rows they both read. Only for the span of one request."""

    def __init__(self, target, *names: str):
        self._target, self._names, self._answers = target, names, {}

    def __getattr__(self, name: str):
        method = getattr(self._target, name)
        if name not in self._names:
            return method

        def once(arg):
            if (name, arg) not in self._answers:
                try:
                    self._answers[name, arg] = (method(arg), None)
                except Exception as error:  # a missing object is an answer too
                    self._answers[name, arg] = (None, error)
            value, error = self._answers[name, arg]
            if error is not None:
                raise error
            return value

        return once


class NotFound(LookupError):
    """What was asked for is not in the archive (the page says which)."""


def read_json(archive: ObjectStore, key: str, version_id: str | None = None) -> dict:
    try:
        return json.loads(archive.get(key, version_id=version_id))
    except ObjectNotFound:
        raise NotFound(f"{key} is not in the archive") from None


def article_key(key: str) -> str:
    """An article key from a URL: checked, and under articles/ (nothing else reads as one)."""
    keys.check_key(key)
    if not (key.startswith("articles/") and key.endswith(".json")):
        raise NotFound(f"{key} is not an article key")
    return key


def file_type(key: str) -> str:
    """The content type the server sends `key` with; NotFound for what it does not serve."""
    keys.check_key(key)
    if key.startswith(FILE_PREFIXES):
        for ext, kind in FILE_TYPES.items():
            if key.endswith(ext):
                return kind
    raise NotFound(f"{key} is not a page file or WARC of the archive")


# -- papers and their coverage ---------------------------------------------------------


def archived_editions(archive: ObjectStore, paper: str | None = None) -> dict[str, list[str]]:
    """{paper: [dates, oldest first]} from the manifests' keys."""
    prefix = f"editions/{keys.paper_id(paper)}/" if paper else "editions/"
    editions: dict[str, list[str]] = {}
    for key in archive.list(prefix):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "manifest.json":
            editions.setdefault(parts[1], []).append(parts[2])
    return {p: sorted(dates) for p, dates in editions.items()}


def archived_papers(archive: ObjectStore) -> list[str]:
    """The papers with editions, from one level of the listing (not every manifest)."""
    return sorted(key.split("/")[1] for key in archive.list("editions/", recursive=False))


def _status(archive: ObjectStore, paper: str, day: str) -> dict:
    key = keys.edition_manifest(paper, day)
    try:
        manifest = json.loads(archive.get(key))
    except (ValueError, ObjectNotFound) as exc:
        return {"date": day, "status": "unreadable", "articles": 0, "reasons": [str(exc)]}
    reasons = [manifest["incomplete"]] if manifest.get("incomplete") else []
    return {
        "date": day,
        "status": manifest.get("status", "complete"),
        "articles": len(manifest.get("articles") or ()),
        "reasons": reasons + failed_checks(manifest.get("checks")),
        "crawled": (manifest.get("crawl") or {}).get("finished"),
    }


def _scheduled(paper: Paper | None, first: str, last: str) -> set[str]:
    """Days from `first` to `last` on which the paper's schedule fired."""
    if paper is None:
        return set()
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    until = dt.datetime.combine(end, dt.time(23, 59, 59), ZoneInfo(paper.timezone))
    return {d.isoformat() for d in due_dates(paper, until, (end - start).days + 1)}


def _months(first: str, last: str) -> list[tuple[int, int]]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while (y, m) <= (int(last[:4]), int(last[5:7])):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def coverage(archive: ObjectStore, paper_id: str, paper: Paper | None, dates: list[str]) -> dict:
    """A paper's calendar from its first to its last archived edition: each day archived
    (complete), incomplete, missing (scheduled and not archived) or not scheduled; and the
    scheduled days since the last edition, up to today."""
    editions = in_parallel([lambda d=d: _status(archive, paper_id, d) for d in dates])
    by_date = {e["date"]: e for e in editions}
    months = []
    if dates:
        # The calendar runs to the end of the last edition's month (or today, if sooner):
        # the days after the last edition that the schedule says were due show as missing.
        y, m = int(dates[-1][:4]), int(dates[-1][5:7])
        end = dt.date(y, m, _calendar.monthrange(y, m)[1])
        if paper is not None:
            end = min(end, dt.datetime.now(ZoneInfo(paper.timezone)).date())
        scheduled = _scheduled(paper, dates[0], max(end.isoformat(), dates[-1]))
        for year, month in _months(dates[0], dates[-1]):
            weeks = []
            for week in _calendar.Calendar().monthdatescalendar(year, month):
                row = []
                for day in week:
                    iso = day.isoformat()
                    if day.month != month:
                        row.append(None)
                        continue
                    edition = by_date.get(iso)
                    if edition:
                        state = edition["status"]
                    elif iso < dates[0]:
                        state = "before"  # the archive of this paper had not begun
                    else:
                        state = "missing" if iso in scheduled else "unscheduled"
                    row.append({"date": iso, "day": day.day, "state": state, "edition": edition})
                weeks.append(row)
            months.append({"month": f"{year:04d}-{month:02d}", "weeks": weeks})
    since = []
    if dates and paper is not None:
        today = dt.datetime.now(ZoneInfo(paper.timezone)).date()
        after = dt.date.fromisoformat(dates[-1]) + dt.timedelta(days=1)
        if after <= today:
            since = sorted(_scheduled(paper, after.isoformat(), today.isoformat()))
    counts: dict[str, int] = {}
    for month in months:
        for week in month["weeks"]:
            for cell in week:
                if cell:
                    counts[cell["state"]] = counts.get(cell["state"], 0) + 1
    return {
        "paper": paper_id,
        "editions": editions,
        "months": months,
        "counts": counts,
        "missing_since_last": len(since),
        "last_crawl": max((e.get("crawled") or "" for e in editions), default="") or None,
    }


def paper_info(paper_id: str, paper: Paper | None) -> dict:
    era = paper.eras[-1] if paper else None
    return {
        "id": paper_id,
        "name": paper.name if paper else paper_id,
        "region": paper.region if paper else "",
        "family": era.family if era else "",
        "schedule": paper.schedule if paper else "",
        "catalogued": paper is not None,
    }


def papers_overview(archive: ObjectStore, papers: dict[str, Paper]) -> dict:
    """Every paper with editions, with its calendar; the catalogued papers not archived yet."""
    editions = archived_editions(archive)
    archived = [
        {**paper_info(pid, papers.get(pid)), **coverage(archive, pid, papers.get(pid), dates)}
        for pid, dates in sorted(editions.items())
    ]
    waiting = [paper_info(pid, p) for pid, p in papers.items() if pid not in editions]
    return {"papers": archived, "not_archived": waiting}


def paper_calendar(archive: ObjectStore, paper_id: str, papers: dict[str, Paper]) -> dict:
    dates = archived_editions(archive, paper_id).get(paper_id, [])
    paper = papers.get(paper_id)
    if not dates and paper is None:
        raise NotFound(f"no paper {paper_id!r} in the catalogue or the archive")
    return {**paper_info(paper_id, paper), **coverage(archive, paper_id, paper, dates)}


# -- an edition --------------------------------------------------------------------------


def _zone(value) -> dict | None:
    """A hotspot zone as the manifest gives it, when well formed (the site drew it)."""
    if not isinstance(value, dict) or value.get("shape") not in ("rect", "poly"):
        return None
    coords = value.get("coords")
    if not isinstance(coords, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in coords
    ):
        return None
    if (value["shape"] == "rect" and len(coords) != 4) or (
        value["shape"] == "poly" and (len(coords) < 6 or len(coords) % 2)
    ):
        return None
    xs, ys = coords[::2], coords[1::2]
    corner = {"x": min(xs), "y": min(ys), "coords": coords}  # where its number is drawn
    if value["shape"] == "rect":
        return {"shape": "rect", **corner, "width": max(xs) - min(xs), "height": max(ys) - min(ys)}
    return {"shape": "poly", **corner, "points": " ".join(f"{x},{y}" for x, y in zip(xs, ys))}


def _image_size(archive: ObjectStore, key: str) -> tuple[int, int] | None:
    """Width and height of an archived page image, from its header (a manifest written
    before the crawl measured its images lacks them)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(archive.get(key))) as image:
            return image.size
    except (ObjectNotFound, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def edition(archive: ObjectStore, paper: str, day: str, page_no: int | None = None) -> dict:
    """The manifest, its pages in order, each with its articles (and their zones); `shown`:
    the page `page_no` (else the first), whose image size is read when the manifest lacks it."""
    key = keys.edition_manifest(paper, keys.edition_date(day))
    manifest = read_json(archive, key)
    pages = []
    for page in sorted(manifest.get("pages") or (), key=lambda p: p["page_no"]):
        articles = [
            {**a, "zone": _zone(a.get("zone")), "kind": a.get("kind", "news")}
            for a in manifest.get("articles") or ()
            if a.get("page_no") == page["page_no"]
        ]
        pages.append(
            {
                **page,
                "image_key": page.get("image_key"),
                "width": page.get("width"),
                "height": page.get("height"),
                "kind": page.get("kind") or ("news" if articles else "no-articles"),
                "articles": articles,
                "zoned": False,
            }
        )
    numbers = [p["page_no"] for p in pages]
    shown = pages[numbers.index(page_no) if page_no in numbers else 0] if pages else None
    if shown and shown["image_key"] and any(a["zone"] for a in shown["articles"]):
        if not (shown["width"] and shown["height"]):
            shown["width"], shown["height"] = _image_size(archive, shown["image_key"]) or (0, 0)
        shown["zoned"] = bool(shown["width"] and shown["height"])
    dates = archived_editions(archive, paper).get(paper, [])
    at = dates.index(day) if day in dates else -1
    return {
        "key": key,
        "paper": paper,
        "date": day,
        "status": manifest.get("status", "complete"),
        "reasons": ([manifest["incomplete"]] if manifest.get("incomplete") else [])
        + failed_checks(manifest.get("checks")),
        "pages": pages,
        "shown": shown,
        "crawl": manifest.get("crawl") or {},
        "skipped": manifest.get("skipped") or [],
        "previous": dates[at - 1] if at > 0 else None,
        "next": dates[at + 1] if 0 <= at < len(dates) - 1 else None,
    }


# -- an article, its versions and its cluster --------------------------------------------


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def versions(archive: ObjectStore, key: str) -> list[dict]:
    """Every version of an article, newest first."""
    history = archive.versions(article_key(key))
    if not history:
        raise NotFound(f"{key} is not in the archive")
    return [{**v, "last_modified": _iso(v["last_modified"])} for v in history]


def _safe_url(url) -> str | None:
    """An outside link only when it is plain http(s): javascript:, data: and the rest are
    shown as text, never as a link."""
    return url if isinstance(url, str) and url.lower().startswith(("http://", "https://")) else None


def article(archive: ObjectStore, key: str, version_id: str | None = None) -> dict:
    """The article (a version of it), its versions, and where it came from: the capture (its
    edition's crawl), the WARC it was read from, the page it was printed on."""
    data = read_json(archive, article_key(key), version_id)
    history = versions(archive, key)
    shown = version_id or history[0]["version_id"]
    manifest_key = keys.edition_manifest(data["paper"], data["date"])
    try:
        crawl = json.loads(archive.get(manifest_key)).get("crawl") or {}
    except (ObjectNotFound, ValueError):
        crawl = {}
    images = [
        {
            "url": image.get("url"),
            "link": _safe_url(image.get("url")),
            "caption": image.get("caption") or "",
        }  # fmt: skip
        for image in data.get("images") or ()
        if isinstance(image, dict)
    ]
    version = next((v for v in history if v["version_id"] == shown), {})
    return {
        "key": key,
        "version_id": shown,
        "latest": shown == history[0]["version_id"],
        "article": data,
        "link": _safe_url(data.get("url")),
        "images": images,
        "zone": _zone(data.get("zone")),
        "versions": history,
        "provenance": {
            "archived": version.get("last_modified"),
            "captured": crawl.get("started"),
            "warc_key": crawl.get("warc_key"),
            "manifest": manifest_key,
            "url": data.get("url"),
        },
    }


def diff(archive: ObjectStore, key: str, old: str, new: str) -> dict:
    """The readable diff from version `old` to version `new` of an article."""
    article_key(key)
    a, b = read_json(archive, key, old), read_json(archive, key, new)
    return {"key": key, "old": old, "new": new, **article_diff(a, b)}


def titles(archive: ObjectStore, keys_: Iterable[str]) -> dict[str, dict]:
    """{key: the article's JSON} for the keys still in this bucket (a shared catalog may
    name articles of other buckets)."""

    def one(key: str):
        try:
            return key, json.loads(archive.get(key))
        except (ObjectNotFound, ValueError):
            return key, None

    return {k: v for k, v in in_parallel([lambda k=k: one(k) for k in keys_]) if v is not None}


def cluster(
    archive: ObjectStore, catalog, key: str, offset: int = 0, limit: int | None = None
) -> dict:
    """The reprints of `key`'s story as a timeline across papers (date order, the canonical
    first on its day), each with its title and page: members offset..offset+limit of
    `total` (a wire story can have hundreds of copies; only the shown ones are read)."""
    members = catalog.cluster_of(article_key(key))
    if not members:
        raise NotFound(f"{key} is not in the catalog")
    canonical = members[0]["key"]
    ordered = sorted(members, key=lambda m: (m["date"], m["key"] != canonical))
    shown = ordered[offset : None if limit is None else offset + limit]
    found = titles(archive, [m["key"] for m in shown])
    timeline = []
    for member in shown:
        data = found.get(member["key"]) or {}
        timeline.append(
            {
                **member,
                "title": data.get("title") or "",
                "page_name": data.get("page_name") or "",
                "page_no": data.get("page_no"),
                "in_bucket": member["key"] in found,
            }
        )
    return {
        "key": key,
        "canonical": canonical,
        "members": timeline,
        "total": len(members),
        "papers": len({m["paper"] for m in members}),
        "offset": offset,
        "limit": limit,
    }
