"""CMS families: each one module that registers a `Family`, as data.

A family says how its editions are walked (`Walk`: the selectors of the page list, the
article lists, hotspots and PDFs; or `ApiWalk` for an edition served as JSON) and how its
articles are printed (`Skin`: where each field sits). The spiders, the clean step and
papers.yaml validation read this registry; nothing else lists families.

A built-in family is a module `papers/families/<name>.py` that sets
`FAMILY = register(Family(...))`. Modules named in EPAPER_FAMILY_MODULES (comma-separated
import paths) are imported too, so a family of one's own needs no edit here.
"""

from __future__ import annotations

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
        if not all(isinstance(s, Skin) for s in self.skins):
            raise FamilyError(f"family {self.name!r}: skins must be Skin instances")


_REGISTRY: dict[str, Family] = {}
_imported: set[str] = set()  # family modules already imported by discovery


def register(family: Family) -> Family:
    """Add `family`; registering the same one again (a module imported twice) is a no-op."""
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
    return tuple(importlib.import_module(m).FAMILY for m in _builtin_modules())


def _builtin_modules() -> list[str]:
    from papers import families as package

    return sorted(f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__))


def _discover() -> None:
    if not _imported:
        for module in _builtin_modules():
            importlib.import_module(module)
            _imported.add(module)
    extra = [m.strip() for m in os.environ.get(ENV_MODULES, "").split(",") if m.strip()]
    for module in extra:
        if module not in _imported:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise FamilyError(f"{ENV_MODULES}: cannot import {module!r}: {exc}") from None
            _imported.add(module)
