"""One publisher per edition at a time: the catalog's own lock (`ArticleCatalog.edition_lock`,
storage/protocols.py), each backend's kind of lock in storage/catalog.py.

`edition_lock(catalog, paper, date)` is the older spelling of `catalog.edition_lock(paper, date)`,
kept while flows/archive.py calls it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager

from storage.protocols import ArticleCatalog


def edition_lock(catalog: ArticleCatalog, paper: str, date: str) -> AbstractContextManager[None]:
    return catalog.edition_lock(paper, date)
