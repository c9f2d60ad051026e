"""Object keys of the archive layout (see docs/architecture.md, "Archive layout").

Every component that comes from site data or config is checked here, so no key can
climb out of its prefix (`..`, `/`), be absolute, or carry control characters.
Paper ids, dates and page numbers must already be valid; article ids are taken from
URLs, so anything else is turned into a safe id deterministically (papers.ids).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from papers.ids import ARTICLE_ID, PAPER_ID, article_id
from papers.ids import MAX_ARTICLE_ID as MAX_ARTICLE_ID  # the bound a key's article part keeps

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    """Compact UTC timestamp (20240131T063000Z); naive datetimes are taken as UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y%m%dT%H%M%SZ")
    if isinstance(value, str) and ARTICLE_ID.fullmatch(value):
        return value
    raise ValueError(f"bad crawl timestamp {value!r}: must be a datetime or match [A-Za-z0-9_-]+")


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


def raw_warc(paper: str, day: date | str, timestamp: datetime | str) -> str:
    return f"raw/{paper_id(paper)}/{edition_date(day)}/{crawl_timestamp(timestamp)}.warc.gz"


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
