"""CMS families: each one module that registers a `Family`, as data.

A family says how its editions are walked (`Walk`: the selectors of the page list, the
article lists, hotspots and PDFs; or `ApiWalk` for an edition served as JSON) and how its
articles are printed (`Skin`: where each field sits). The spiders, the clean step and
papers.yaml validation read this registry; nothing else lists families.

A built-in family is a module `papers/families/<name>.py` that sets `FAMILY = Family(...)`;
modules named in EPAPER_FAMILY_MODULES (comma-separated import paths) are read the same way,
so a family of one's own needs no edit of any list.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import re
from dataclasses import dataclass

ENV_MODULES = "EPAPER_FAMILY_MODULES"
FAMILY_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
DEFAULT_HOTSPOTS = ("map area::attr(href)",)
DEFAULT_PDFS = ('a[href$=".pdf"]::attr(href)', 'a[href$=".PDF"]::attr(href)')


class FamilyError(ValueError):
    """A family definition or module that cannot be used; the message names it."""


@dataclass(frozen=True)
class Walk:
    """How the shared edition walk finds pages and articles: CSS, most specific first."""

    page_entries: tuple[str, ...]  # elements that each hold one page's link (often its PDF's)
    article_links: tuple[str, ...]  # the <a> of a page's article list
    hotspot_links: tuple[str, ...] = DEFAULT_HOTSPOTS  # image-map hotspots
    pdf_links: tuple[str, ...] = DEFAULT_PDFS  # this page's PDF when its entry has none
    current_page: tuple[str, ...] = ()  # the current page's label when the list does not tell
    article_title: tuple[str, ...] = ()  # an article's headline (ads and pseudo-articles)
    # URL shapes (regexes searched in a link's path): what makes a link a page or an article
    # in this family, whatever element or class holds it; selectors above are then hints.
    # A link of one shape is never taken for the other.
    page_url: str = ""
    article_url: str = ""
    # False where every page also lists other pages' articles (a table of contents):
    # then only the article_links selectors say which articles are this page's
    articles_anywhere: bool = True


@dataclass(frozen=True)
class ApiWalk:
    """An edition served as JSON (a reader app's API): one index, one JSON per article.
    `page_view` and `article_json` are relative to the index; {date}, {pnumber}, {id}."""

    page_view: str  # the reader's view of a page: the page item's URL
    article_json: str


@dataclass(frozen=True)
class Skin:
    """Where one CMS skin prints each field: CSS selectors, "" = not printed.
    `body` lists alternatives, most specific first; all elements matched by the
    first alternative that matches form the body (xmwb prints one p per paragraph)."""

    name: str
    body: tuple[str, ...]
    title: str
    kicker: str = ""
    subtitle: str = ""
    author: str = ""  # an element with the author's name (作者：…)
    images: str = ""  # extra image scope beside the body (layoutlist's div.attachment)
    page: str = ""  # the "第01版：要闻" label
    nbsp_paragraphs: bool = False  # paragraphs separated only by runs of &nbsp;


@dataclass(frozen=True)
class Family:
    name: str  # the `family` of papers.yaml
    description: str  # the URL shape a user recognises the family by
    walk: Walk | ApiWalk
    skins: tuple[Skin, ...] = ()  # HTML article skins; a JSON edition needs none

    def __post_init__(self):
        if not isinstance(self.name, str) or not FAMILY_NAME.match(self.name):
            raise FamilyError(f"family name {self.name!r}: must be lower-case letters, digits, -")
        if not isinstance(self.walk, (Walk, ApiWalk)):
            raise FamilyError(f"family {self.name!r}: walk must be a Walk or an ApiWalk")
        if isinstance(self.walk, Walk):
            for field in ("page_url", "article_url"):
                try:
                    re.compile(getattr(self.walk, field))
                except re.error as exc:
                    raise FamilyError(f"family {self.name!r}: walk.{field}: {exc}") from None
        if not all(isinstance(s, Skin) for s in self.skins):
            raise FamilyError(f"family {self.name!r}: skins must be Skin instances")


_REGISTRY: dict[str, Family] = {}
_imported: set[str] = set()  # family modules whose FAMILY is registered


def register(family: Family) -> Family:
    """Add `family`: the same one again is a no-op, another one under its name an error."""
    known = _REGISTRY.get(family.name)
    if known is not None and known != family:
        raise FamilyError(f"family {family.name!r} is registered twice, differently")
    _REGISTRY[family.name] = family
    return family


def families() -> tuple[Family, ...]:
    """Every registered family: the built-in ones first, by module name."""
    _discover()
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    return tuple(f.name for f in families())


def get(name: str) -> Family:
    _discover()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise KeyError(f"unknown family {name!r} (known: {', '.join(_REGISTRY)})") from None


def builtin() -> tuple[Family, ...]:
    """The families of papers/families/, the ones every installation has."""
    return tuple(_family_of(m, "papers/families") for m in _builtin_modules())


@functools.cache
def _builtin_modules() -> tuple[str, ...]:
    from papers import families as package

    found = pkgutil.iter_modules(package.__path__)
    return tuple(sorted(f"{package.__name__}.{m.name}" for m in found))


def _discover() -> None:
    extra = [m.strip() for m in os.environ.get(ENV_MODULES, "").split(",") if m.strip()]
    for module, named_in in [
        *((m, "papers/families") for m in _builtin_modules()),
        *((m, ENV_MODULES) for m in extra),
    ]:
        if module not in _imported:
            register(_family_of(module, named_in))
            _imported.add(module)


def _family_of(module: str, named_in: str) -> Family:
    try:
        family = getattr(importlib.import_module(module), "FAMILY", None)
    except ImportError as exc:
        raise FamilyError(f"{named_in}: cannot import {module!r}: {exc}") from None
    if not isinstance(family, Family):
        raise FamilyError(f"{named_in}: module {module!r} defines no FAMILY = Family(...)")
    return family
