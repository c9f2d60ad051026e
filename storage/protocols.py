"""What the flows need from an object store and from a catalog, as small protocols.

A new backend is one class with these methods: an ObjectStore (the S3 `Archive` in
storage/archive.py) or an ArticleCatalog (storage/catalog.py: `SqliteCatalog`, `PostgresCatalog`).
The protocols are runtime-checkable, so a test can ask `isinstance(backend, ObjectStore)`;
that checks the method names only, the shared behavioural tests check the rest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class PutResult:
    key: str
    version_id: str | None
    changed: bool  # False: the latest version already had this content; nothing written


@runtime_checkable
class ObjectStore(Protocol):
    """A versioned key-value store: a write adds a version, and only when content changed;
    no version is ever removed."""

    def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> PutResult: ...

    def put_file(
        self, key: str, path: str | os.PathLike, content_type: str = "application/octet-stream"
    ) -> PutResult: ...

    def get(self, key: str, version_id: str | None = None) -> bytes: ...

    def stat(self, key: str, version_id: str | None = None) -> dict: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "", recursive: bool = True) -> Iterator[str]: ...

    def versions(self, key: str) -> list[dict]: ...

    def presign(
        self, key: str, expires: timedelta = timedelta(hours=1), version_id: str | None = None
    ) -> str: ...


@runtime_checkable
class ArticleCatalog(Protocol):
    """The dedupe catalog every worker shares, and the per-edition publish lock it hosts
    (it is the one place all workers already meet)."""

    def assign(self, key: str, paper: str, date: str, text: str) -> dict:
        """{cluster, canonical, similarity, exact} of an archived article; idempotent per
        key and text."""
        ...

    def cluster_of(self, key: str) -> list[dict]:
        """Every member of `key`'s cluster in archive order; empty for an unknown key."""
        ...

    def edition_lock(self, paper: str, date: str) -> AbstractContextManager[None]:
        """Held by one publisher of (paper, date) at a time, across processes and machines."""
        ...

    def close(self) -> None: ...
