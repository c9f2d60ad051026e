"""Object keys of the archive layout (see docs/architecture.md, "Archive layout").

Every component that comes from site data or config is checked here, so no key can
climb out of its prefix (`..`, `/`), be absolute, or carry control characters.
Paper ids, dates and page numbers must already be valid; article ids are taken from
URLs, so anything else is turned into a safe id deterministically (papers.ids).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from papers.ids import ARTICLE_ID as ARTICLE_ID  # what a key's article part matches
from papers.ids import MAX_ARTICLE_ID as MAX_ARTICLE_ID  # the bound a key's article part keeps
from papers.ids import PAPER_ID, article_id

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TIMESTAMP = re.compile(r"(\d{8})T?(\d{6})Z?")
# A WARC's file name: {paper}-{timestamp}-{serial}.warc.gz, or an old bare {timestamp}.warc.gz.
_WARC_NAME = re.compile(r"(?:[a-z0-9-]+-)?(\d{8}T?\d{6}Z?)(?:-(\d{5}))?\.warc\.gz")


def paper_id(value: str) -> str:
    if not isinstance(value, str) or not PAPER_ID.fullmatch(value):
        raise ValueError(f"bad paper id {value!r}: must match [a-z0-9-]+")
    return value


def edition_date(value: date | str) -> str:
    """YYYY-MM-DD from a date or an ISO date string."""
    if isinstance(value, datetime):  # a datetime is a date too, but has no single day
        raise ValueError(f"bad edition date {value!r}: pass a date, not a datetime")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"bad edition date {value!r}: must be YYYY-MM-DD")


def page_number(value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"bad page number {value!r}: must be an int >= 0")
    return f"{value:02d}"


def crawl_timestamp(value: datetime | str) -> str:
    """14-digit UTC timestamp (20240131063000), as WARC names and replay URLs write it;
    naive datetimes are taken as UTC. Old keys' compact form (20240131T063000Z) is read."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y%m%d%H%M%S")
    if isinstance(value, str) and (found := _TIMESTAMP.fullmatch(value)):
        return "".join(found.groups())
    raise ValueError(f"bad crawl timestamp {value!r}: must be a datetime or YYYYMMDDHHMMSS")


def edition_manifest(paper: str, day: date | str) -> str:
    return f"editions/{paper_id(paper)}/{edition_date(day)}/manifest.json"


def article(paper: str, day: date | str, page_no: int, article: str) -> str:
    where = f"{paper_id(paper)}/{edition_date(day)}/{page_number(page_no)}"
    return f"articles/{where}/{article_id(article)}.json"


def page_pdf(paper: str, day: date | str, page_no: int) -> str:
    return f"pdfs/{paper_id(paper)}/{edition_date(day)}/{page_number(page_no)}.pdf"


def page_text(paper: str, day: date | str, page_no: int) -> str:
    """The text extracted from a page PDF, stored beside it."""
    return f"pdfs/{paper_id(paper)}/{edition_date(day)}/{page_number(page_no)}.txt"


# The page image formats the spider stores: extension -> content type.
IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif"}


def page_image(paper: str, day: date | str, page_no: int, ext: str) -> str:
    """The page's scanned image, the one its image-map hotspots are drawn on."""
    if ext not in IMAGE_TYPES:
        raise ValueError(
            f"bad page image extension {ext!r}: must be one of {', '.join(IMAGE_TYPES)}"
        )
    return f"pages/{paper_id(paper)}/{edition_date(day)}/{page_number(page_no)}.{ext}"


def raw_warc(paper: str, day: date | str, timestamp: datetime | str, serial: int = 0) -> str:
    """raw/{paper}/{date}/{paper}-{YYYYMMDDHHMMSS}-{serial:05d}.warc.gz: the conventional
    prefix-timestamp-serial name (serial: the file's number in its crawl; one file today)."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= 99999:
        raise ValueError(f"bad WARC serial {serial!r}: must be an int in 0..99999")
    where = f"raw/{paper_id(paper)}/{edition_date(day)}"
    return f"{where}/{paper}-{crawl_timestamp(timestamp)}-{serial:05d}.warc.gz"


def is_raw_warc(key: str) -> bool:
    """A WARC of an edition's raw/ folder, named in either form (not its indexes)."""
    return bool(_WARC_NAME.fullmatch(key.rsplit("/", 1)[-1]))


def warc_order(key: str) -> tuple[str, str]:
    """Sort key of an edition's WARCs by crawl time, whichever form each is named in."""
    found = _WARC_NAME.fullmatch(key.rsplit("/", 1)[-1])
    if not found:
        raise ValueError(f"bad WARC key {key!r}: not a crawl's WARC")
    return crawl_timestamp(found.group(1)), found.group(2) or "00000"


def warc_index(warc_key: str) -> str:
    """The CDXJ index written beside a WARC: ….warc.gz → ….cdxj."""
    if not warc_key.endswith(".warc.gz"):
        raise ValueError(f"bad WARC key {warc_key!r}: must end in .warc.gz")
    return warc_key.removesuffix(".warc.gz") + ".cdxj"


def edition_index(paper: str, day: date | str) -> str:
    """The merged CDXJ index of every WARC of an edition, which pywb loads."""
    return f"raw/{paper_id(paper)}/{edition_date(day)}/index.cdxj"


def check_key(key: str) -> str:
    """Any object key we write: relative, no empty/`.`/`..` segments, no control chars."""
    if (
        not isinstance(key, str)
        or not key
        or key.startswith("/")
        or _CONTROL.search(key)
        or "\\" in key
        or any(part in ("", ".", "..") for part in key.split("/"))
        or len(key.encode("utf-8", "surrogatepass")) > 1024
    ):
        raise ValueError(
            f"bad object key {key!r}: must be a relative path without '..', "
            "empty parts or control characters"
        )
    return key


def edition_wacz(paper: str, first: date | str, last: date | str | None = None) -> str:
    """The WACZ package of a paper's editions first..last: wacz/{paper}/{date}.wacz for one
    edition, wacz/{paper}/{YYYY-MM}.wacz for a whole month, else
    wacz/{paper}/{first}_{last}.wacz."""
    start = date.fromisoformat(edition_date(first))
    end = date.fromisoformat(edition_date(last if last is not None else first))
    if end < start:
        raise ValueError(f"bad edition range {start}..{end}: it ends before it starts")
    after = date.fromordinal(end.toordinal() + 1)
    if start == end:
        name = start.isoformat()
    elif start.day == 1 and after.day == 1 and end.month == start.month:
        name = f"{start:%Y-%m}"
    else:
        name = f"{start}_{end}"
    return f"wacz/{paper_id(paper)}/{name}.wacz"
