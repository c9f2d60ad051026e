"""The one definition of each id the archive is built from: paper id, article id, page
label, and what makes an archived article a reprint.

Article ids come from site URLs, so anything unsafe in one is turned into a safe id
deterministically; ids that were safe already stay as they are, so their archive keys
never change.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

# Matched with .match or .fullmatch alike: \Z, since $ lets a trailing newline through.
PAPER_ID = re.compile(r"[a-z0-9-]+\Z")
ARTICLE_ID = re.compile(r"[A-Za-z0-9_-]+\Z")
MAX_ARTICLE_ID = 100
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_DIGEST_CHARS = 10
# "第01版：要闻", "A01版：要闻", "第B02版:广告", "01版 要闻": the page number, the letters
# of a lettered section before or after it, and the page name.
PAGE_LABEL = re.compile(
    r"第?\s*(?P<prefix>[A-Za-z]*)\s*(?P<number>\d+)\s*(?P<suffix>[A-Za-z]*)\s*版\s*[：:]?\s*"
    r"(?P<name>.*)",
    re.DOTALL,
)


def article_id(value: str) -> str:
    """`value` if it is a safe id ([A-Za-z0-9_-], at most 100 characters), else a safe id
    derived from it: its safe characters and a hash of the whole value, so that two
    names that differ only in what was dropped (新闻, 内容) never share a key."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"bad article id {value!r}: must be a non-empty string")
    if ARTICLE_ID.match(value) and len(value) <= MAX_ARTICLE_ID:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    stem = _UNSAFE_RUN.sub("_", value).strip("_")[: MAX_ARTICLE_ID - _DIGEST_CHARS - 1]
    return f"{stem}-{digest}" if stem else digest


def article_id_of_url(url: str) -> str:
    """The article id of an article's URL: its file name without the extension
    (content_1.htm: content_1), made safe; "index" for a URL ending in a folder.

    A file name with other characters (内容.html, %0d%0a…) keeps its safe characters, each
    other one as "_", and gets a sha1 of itself: the form archive keys have always had, so
    an archived article keeps its key."""
    stem = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", stem)
    if safe != stem:
        digest = hashlib.sha1(stem.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
        safe = f"{safe.strip('_')[:80]}-{digest}" if safe.strip("_") else digest
    return article_id(safe or "index")


def is_reprint(article: dict) -> bool:
    """Whether an archived article is a later copy of a story archived before. A story's
    cluster is its first article's key (a singleton's is its own), so a reprint is an
    article whose cluster is another's. `article`: an article record with its `key` and
    `dedupe` (the dedupe step's), or a manifest entry (`key`, `cluster`)."""
    dedupe = article.get("dedupe", article)
    return dedupe["cluster"] != article["key"]
