"""The shared dedupe catalog: every archived article's fingerprint and cluster, in SQL.

SQLite by default ($EPAPER_HOME/catalog.sqlite), PostgreSQL when EPAPER_CATALOG_URL
points at one, so several workers share one index. The index lives in the database:
`assign` reads only the rows its LSH band keys point at, never the whole index.

Concurrency: an assign reads what it can match (rows sharing one of its band keys, rows
with its sha256, its own key's row) and writes its own rows. On PostgreSQL it first takes
transaction-scoped advisory locks on exactly those keys, all in one sorted statement (so
no deadlock), before it reads anything; two assigns that could see each other therefore
run one after the other and assigns that share nothing commute: concurrent workers end
with the clusters of a serial run. SQLite has one writer: each assign is a BEGIN
IMMEDIATE transaction.
"""

from __future__ import annotations

import os
from functools import cache
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xxhash
from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, bindparam, create_engine, delete, event,
                        func, insert, select, text, true, update)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from flows.dedupe import Fingerprint, fingerprint, is_reprint, overlap, pack, size_allows_reprint, unpack

# A candidate list is capped (by band hits), and within one cluster only its best few
# members are verified: one verified member is enough to join a cluster.
MAX_CANDIDATES = 200
VERIFY_PER_CLUSTER = 3

_ID = BigInteger().with_variant(Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

metadata = MetaData()
articles = Table(
    "dedupe_articles", metadata,
    Column("seq", _ID, primary_key=True, autoincrement=True),  # archive order
    Column("key", String(512), nullable=False, unique=True),
    Column("paper", String(64), nullable=False),
    Column("date", String(10), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("cluster", String(512), nullable=False),
    Column("canonical", String(512), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("exact", Boolean, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
    Column("size", Integer, nullable=False),  # number of shingles
    Column("shingles", LargeBinary, nullable=False),  # for verification
    Column("bands", LargeBinary, nullable=False),  # its band keys, to replace them on update
    Index("ix_dedupe_articles_cluster", "cluster", "seq"),
)
bands = Table(
    "dedupe_bands", metadata,
    Column("band", BigInteger, primary_key=True),
    Column("article", _ID, ForeignKey("dedupe_articles.seq"), primary_key=True),
    sqlite_with_rowid=False,  # the primary key is the table: one B-tree, looked up by band
)

# Statements are built once: SQLAlchemy then only looks up its compiled form.
_NEVER = 1 << 62  # `before` for a new article: every archived one is earlier
_hits = func.count().label("hits")
_OWN = select(articles.c.seq, articles.c.sha256, articles.c.bands, articles.c.cluster, articles.c.canonical,
              articles.c.similarity, articles.c.exact).where(articles.c.key == bindparam("key"))
_EXACT = (select(articles.c.cluster, articles.c.canonical, articles.c.similarity, true().label("exact"))
          .where(articles.c.sha256 == bindparam("sha256"), articles.c.seq < bindparam("before"))
          .order_by(articles.c.seq).limit(1))
# Exact duplicates share every band key, so they come first here (earliest first) and
# need no query of their own, except for texts too short to have band keys.
_CANDIDATES = (select(articles.c.key, articles.c.sha256, articles.c.cluster, articles.c.canonical,
                      articles.c.similarity, articles.c.size, _hits)
               .join_from(bands, articles, bands.c.article == articles.c.seq)
               .where(bands.c.band.in_(bindparam("bands", expanding=True)), articles.c.seq < bindparam("before"))
               .group_by(articles.c.seq)
               .order_by((articles.c.sha256 == bindparam("sha256")).desc(), _hits.desc(), articles.c.seq)
               .limit(MAX_CANDIDATES))
_SETS = select(articles.c.key, articles.c.shingles).where(articles.c.key.in_(bindparam("keys", expanding=True)))
_INSERT = insert(articles)
_UPDATE = update(articles).where(articles.c.seq == bindparam("old_seq"))
_DELETE_BANDS = delete(bands).where(bands.c.article == bindparam("old_seq"),
                                    bands.c.band.in_(bindparam("old", expanding=True)))


@cache
def _insert_bands(n: int):
    """One multi-row INSERT for an article's n band keys: not n statements (psycopg's
    executemany), and compiled once (SQLAlchemy does not cache multi-VALUES inserts)."""
    return text(f"INSERT INTO {bands.name} (band, article) VALUES "
                + ", ".join(f"(:b{i}, :article)" for i in range(n)))


_CLUSTER = select(articles.c.cluster).where(articles.c.key == bindparam("key"))
_MEMBERS = (select(articles.c.paper, articles.c.date, articles.c.key, articles.c.similarity, articles.c.canonical)
            .where(articles.c.cluster == bindparam("cluster")).order_by(articles.c.seq))
_LOCK = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
_SCHEMA_LOCK = text("SELECT pg_advisory_xact_lock(1701867888)")  # workers starting together


class CatalogError(RuntimeError):
    pass


def _hash64(s: str) -> int:
    return xxhash.xxh64_intdigest(s.encode()) - (1 << 63)


def _default_url() -> str:
    home = Path(os.environ.get("EPAPER_HOME") or ".epaper")
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'catalog.sqlite'}"


def row_values(key: str, paper: str, date: str, fp: Fingerprint, record: dict) -> dict:
    """An article's row (without archived_at), as assign writes it."""
    return dict(key=key, paper=paper, date=date, sha256=fp.sha256, **record, size=len(fp.shingles),
                shingles=pack(fp.shingles), bands=np.asarray(fp.bands, "<i8").tobytes())


def _record(row) -> dict:
    return {"cluster": row.cluster, "canonical": row.canonical, "similarity": row.similarity,
            "exact": bool(row.exact)}


class Catalog:
    def __init__(self, url: str | None = None):
        url_ = make_url(url or os.environ.get("EPAPER_CATALOG_URL") or _default_url())
        if url_.drivername == "postgresql":
            url_ = url_.set(drivername="postgresql+psycopg")  # the installed driver
        self.url = url_.render_as_string(hide_password=True)
        self.postgres = url_.get_backend_name() == "postgresql"
        if self.postgres:
            self.engine = create_engine(url_)
        else:
            self.engine = create_engine(url_, connect_args={"timeout": 60})  # wait for the write lock
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        try:
            with self.engine.begin() as conn:
                if self.postgres:
                    conn.execute(_SCHEMA_LOCK)
                metadata.create_all(conn)
        except OperationalError as exc:
            self.engine.dispose()
            raise CatalogError(f"catalog database {self.url} is unreachable: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def assign(self, key: str, paper: str, date: str, text: str) -> dict:
        """Cluster of an archived article: its record, written once per key and text.

        An unchanged article returns its stored record and writes nothing; a changed one
        is matched again, against the articles archived before it, keeping its place.
        """
        fp = fingerprint(text)  # the CPU work, outside the transaction
        locks = {_hash64(key), _hash64(fp.sha256), *fp.bands}
        while True:
            with self.engine.begin() as conn:
                if self.postgres:
                    conn.execute(_LOCK, {"keys": sorted(locks)})
                old = conn.execute(_OWN, {"key": key}).first()
                if old is not None and old.sha256 == fp.sha256:
                    return _record(old)
                old_bands = np.frombuffer(old.bands, "<i8").tolist() if old is not None else []
                if self.postgres and not locks.issuperset(old_bands):
                    locks.update(old_bands)  # a changed text: its old band keys too, from the start
                    continue
                before = old.seq if old is not None else _NEVER
                record = self._match(conn, fp, before) or \
                    {"cluster": key, "canonical": key, "similarity": 1.0, "exact": False}  # a new story
                values = row_values(key, paper, date, fp, record)
                if old is None:
                    values["archived_at"] = datetime.now(timezone.utc)
                    seq = conn.execute(_INSERT, values).inserted_primary_key[0]
                else:
                    seq = old.seq
                    conn.execute(_UPDATE, {**values, "old_seq": seq})
                    if old_bands:
                        conn.execute(_DELETE_BANDS, {"old_seq": seq, "old": old_bands})
                if fp.bands:
                    conn.execute(_insert_bands(len(fp.bands)),
                                 {"article": seq, **{f"b{i}": b for i, b in enumerate(fp.bands)}})
                return record

    def _match(self, conn, fp: Fingerprint, before: int) -> dict | None:
        """The record of the best verified match among the articles archived before `before`."""
        if not fp.bands:
            exact = conn.execute(_EXACT, {"sha256": fp.sha256, "before": before}).first()
            return _record(exact) if exact is not None else None
        per_cluster: dict[str, int] = {}
        chosen = []
        for c in conn.execute(_CANDIDATES, {"bands": fp.bands, "before": before, "sha256": fp.sha256}):
            if c.sha256 == fp.sha256:
                return {"cluster": c.cluster, "canonical": c.canonical, "similarity": c.similarity, "exact": True}
            if size_allows_reprint(c.size, len(fp.shingles)) and per_cluster.get(c.cluster, 0) < VERIFY_PER_CLUSTER:
                per_cluster[c.cluster] = per_cluster.get(c.cluster, 0) + 1
                chosen.append(c)
        if not chosen:
            return None
        # Only the chosen candidates' sets (and their canonicals', for `similarity`) are read.
        wanted = {c.key for c in chosen} | {c.canonical for c in chosen}
        sets = {row.key: unpack(row.shingles) for row in conn.execute(_SETS, {"keys": list(wanted)})}
        best, best_jaccard = None, -1.0
        for c in chosen:  # most band hits first: ties go to the earlier article
            o = overlap(fp.shingles, sets[c.key])
            if is_reprint(o) and o.jaccard > best_jaccard:
                best, best_jaccard = c, o.jaccard
        if best is None:
            return None
        return {"cluster": best.cluster, "canonical": best.canonical,
                "similarity": round(overlap(fp.shingles, sets[best.canonical]).jaccard, 4), "exact": False}

    def cluster_of(self, key: str) -> list[dict]:
        """Every archived reprint of `key`'s story, in archive order (canonical first).

        Members are dicts: paper, date, key, similarity (to the canonical), canonical.
        Raises KeyError when `key` was never archived.
        """
        with self.engine.connect() as conn:
            cluster = conn.execute(_CLUSTER, {"key": key}).scalar()
            if cluster is None:
                raise KeyError(key)
            return [dict(row._mapping) for row in conn.execute(_MEMBERS, {"cluster": cluster})]


def _sqlite_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    # WAL: readers never block the writer; NORMAL: no fsync per commit (WAL stays consistent).
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading candidates
