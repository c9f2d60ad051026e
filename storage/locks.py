"""One publisher per edition at a time, across processes and machines.

Put-if-changed is a HEAD then a PUT: two runs publishing one edition at once could both
see "missing" and both write. The lock lives where every worker already meets, the
catalog database: a PostgreSQL advisory lock, or a file lock beside a SQLite catalog
(SQLite means one machine).
"""
from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

import xxhash
from sqlalchemy import text

from storage.catalog import Catalog


@contextmanager
def edition_lock(catalog: Catalog, paper: str, date: str) -> Iterator[None]:
    if catalog.postgres:
        key = xxhash.xxh64_intdigest(f"publish:{paper}:{date}".encode()) - (1 << 63)
        with catalog.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    with open(f"{catalog.engine.url.database}.publish.lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
