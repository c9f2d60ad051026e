"""The shared dedupe catalog: every archived article's fingerprint and cluster, in SQL.

SQLite by default ($EPAPER_HOME/catalog.sqlite), PostgreSQL when EPAPER_CATALOG_URL
points at one, so several workers share one index. The index lives in the database:
`assign` reads only the rows its LSH band keys point at, never the whole index.

`Catalog(url)` gives the backend the URL names: `SqliteCatalog` or `PostgresCatalog`. They
share the schema and the matching (`Catalog`); each says how it keeps assigns apart and
how it locks an edition for its publisher (the `ArticleCatalog` protocol, storage/protocols.py).

Concurrency: an assign reads what it can match (rows sharing one of its band keys, rows
with its sha256, its own key's row) and writes its own rows. On PostgreSQL it first takes
transaction-scoped advisory locks on exactly those keys, all in one sorted statement (so
no deadlock), before it reads anything; two assigns that could see each other therefore
run one after the other and assigns that share nothing commute: concurrent workers end
with the clusters of a serial run. SQLite has one writer: each assign is a BEGIN
IMMEDIATE transaction.
"""

from __future__ import annotations

import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from functools import cache

import numpy as np
import xxhash
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from papers.home import epaper_home
from text.align import bare, same_story
from text.dedupe import (
    Fingerprint,
    fingerprint,
    is_reprint,
    keeps_text,
    needs_alignment,
    overlap,
    pack,
    size_allows_reprint,
    unpack,
)

# Within one cluster only its best few candidates are verified: one verified member is
# enough to join a cluster.
VERIFY_PER_CLUSTER = 3

_ID = BigInteger().with_variant(Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

metadata = MetaData()
articles = Table(
    "dedupe_articles",
    metadata,
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
    # The bare text (text.align.bare) of an article that could meet a short one, to confirm
    # such a match by alignment (text.dedupe.keeps_text); NULL for the others, and for rows
    # archived before the column, whose matches keep the overlap test alone.
    Column("short_text", Text, nullable=True),
    Index("ix_dedupe_articles_cluster", "cluster", "seq"),
)
# No FOREIGN KEY on `article`: PostgreSQL would look up and lock the article row once per
# band row (48 per article); assign writes both tables in one transaction anyway.
bands = Table(
    "dedupe_bands",
    metadata,
    Column("band", BigInteger, primary_key=True),
    Column("article", _ID, primary_key=True),
    sqlite_with_rowid=False,  # the primary key is the table: one B-tree, looked up by band
)

# Statements are built once: SQLAlchemy then only looks up its compiled form.
_NEVER = 1 << 62  # `before` for a new article: every archived one is earlier
# The article's own row, and the earliest article with its text (an exact duplicate).
_EARLIEST_TWIN = (
    select(func.min(articles.c.seq))
    .where(articles.c.sha256 == bindparam("sha256"))
    .scalar_subquery()
)
_OWN_AND_TWIN = select(
    articles.c.seq,
    articles.c.key,
    articles.c.sha256,
    articles.c.bands,
    articles.c.cluster,
    articles.c.canonical,
    articles.c.similarity,
    articles.c.exact,
).where((articles.c.key == bindparam("key")) | (articles.c.seq == _EARLIEST_TWIN))
# Postings of the article's band keys. A cluster keeps each band key once (a member adds
# only the keys its cluster lacks), so a story reprinted by a hundred papers still
# returns about one row per key, not a hundred.
_CANDIDATES = (
    select(
        bands.c.band,
        articles.c.seq,
        articles.c.key,
        articles.c.cluster,
        articles.c.canonical,
        articles.c.size,
    )
    .join_from(bands, articles, bands.c.article == articles.c.seq)
    .where(
        bands.c.band.in_(bindparam("bands", expanding=True)), articles.c.seq < bindparam("before")
    )
)
_SETS = select(articles.c.key, articles.c.shingles, articles.c.short_text).where(
    articles.c.key.in_(bindparam("keys", expanding=True))
)
_INSERT = insert(articles)
_UPDATE = update(articles).where(articles.c.seq == bindparam("old_seq"))
_DELETE_BANDS = delete(bands).where(
    bands.c.article == bindparam("old_seq"), bands.c.band.in_(bindparam("old", expanding=True))
)


@cache
def _insert_bands(n: int):
    """One multi-row INSERT for an article's n band keys: not n statements (psycopg's
    executemany), and compiled once (SQLAlchemy does not cache multi-VALUES inserts)."""
    return text(
        f"INSERT INTO {bands.name} (band, article) VALUES "
        + ", ".join(f"(:b{i}, :article)" for i in range(n))
    )


# The other members of a cluster, whose similarity to the canonical a correction changes.
_OTHERS = select(articles.c.seq, articles.c.key, articles.c.sha256, articles.c.shingles).where(
    articles.c.cluster == bindparam("cluster"), articles.c.key != bindparam("key")
)
_SET_SIMILARITY = (
    update(articles)
    .where(articles.c.seq == bindparam("member"))
    .values(similarity=bindparam("new_similarity"), exact=bindparam("new_exact"))
)
_CLUSTER = select(articles.c.cluster).where(articles.c.key == bindparam("key"))
_MEMBERS = (
    select(
        articles.c.paper,
        articles.c.date,
        articles.c.key,
        articles.c.similarity,
        articles.c.canonical,
        articles.c.cluster,
    )
    .where(articles.c.cluster == bindparam("cluster"))
    .order_by(articles.c.seq)
)


class CatalogError(RuntimeError):
    pass


def _hash64(s: str) -> int:
    return xxhash.xxh64_intdigest(s.encode()) - (1 << 63)


def _default_url() -> str:
    home = epaper_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'catalog.sqlite'}"


def _catalog_url(url: str | None) -> URL:
    """The catalog's database URL: `url`, else EPAPER_CATALOG_URL, else the SQLite file
    under EPAPER_HOME."""
    source = "the catalog URL" if url else "EPAPER_CATALOG_URL"
    url = url or os.environ.get("EPAPER_CATALOG_URL") or _default_url()
    try:
        return make_url(url)
    except ArgumentError:  # the value is not echoed: it may hold a password
        raise CatalogError(
            f"{source} is not a database URL; give sqlite:///<file> "
            "or postgresql://<user>@<host>/<database>"
        ) from None


def row_values(
    key: str,
    paper: str,
    date: str,
    fp: Fingerprint,
    record: dict,
    stored: list[int],
    short_text: str | None = None,
) -> dict:
    """An article's row (without archived_at), as assign writes it; `stored`: the band
    keys it adds to the index; `short_text`: its bare text when keeps_text."""
    return dict(
        key=key,
        paper=paper,
        date=date,
        sha256=fp.sha256,
        **record,
        size=len(fp.shingles),
        shingles=pack(fp.shingles),
        bands=np.asarray(stored, "<i8").tobytes(),
        short_text=short_text,
    )


def _similarity(fp: Fingerprint, packed_shingles: bytes) -> float:
    return round(overlap(fp.shingles, unpack(packed_shingles)).jaccard, 4)


def _record(row) -> dict:
    return {
        "cluster": row.cluster,
        "canonical": row.canonical,
        "similarity": row.similarity,
        "exact": bool(row.exact),
    }


class Catalog(ABC):
    """The schema and the matching both backends share. `Catalog(url)` returns the
    backend's own class (SqliteCatalog or PostgresCatalog), chosen from the URL."""

    backend: str  # SQLAlchemy's backend name of the subclass's URLs
    postgres = False  # for callers that tune per backend (bench/dedupe_bench.py)

    def __new__(cls, url: str | None = None):
        if cls is Catalog:
            cls = _backend_class(_catalog_url(url))
        return super().__new__(cls)

    def __init__(self, url: str | None = None):
        url_ = _catalog_url(url)
        if url_.get_backend_name() != self.backend:
            raise CatalogError(
                f"{type(self).__name__} is for {self.backend} URLs, "
                f"not {url_.render_as_string(hide_password=True)}"
            )
        url_ = self._checked_url(url_)
        self.url = url_.render_as_string(hide_password=True)
        self.engine = self._create_engine(url_)
        try:
            with self.engine.begin() as conn:
                self._lock_schema(conn)
                metadata.create_all(conn)
                _add_short_text(conn)
        except OperationalError as exc:
            self.engine.dispose()
            raise CatalogError(f"catalog database {self.url} is unreachable: {exc.orig}") from exc

    # -- what a backend says -----------------------------------------------------------

    def _checked_url(self, url: URL) -> URL:
        """The URL the engine connects to, once the backend has checked it."""
        return url

    @abstractmethod
    def _create_engine(self, url: URL) -> Engine: ...

    def _lock_schema(self, conn: Connection) -> None:
        """Keep workers that start together from creating the tables at once."""

    def _lock_keys(self, conn: Connection, keys: set[int]) -> None:
        """Before an assign reads: keep out every other assign touching these keys."""

    def _must_widen(self, keys: set[int], wanted: Iterable[int]) -> bool:
        """Whether an assign holding the locks on `keys` must start again holding `wanted`
        too (which it adds to `keys`)."""
        return False

    @abstractmethod
    def edition_lock(self, paper: str, date: str) -> AbstractContextManager[None]:
        """One publisher per edition at a time, across processes (and machines where the
        backend is shared). Put-if-changed is a HEAD then a PUT: two runs publishing one
        edition at once could both see "missing" and both write. The lock lives where
        every worker already meets, the catalog database."""

    # -- shared ------------------------------------------------------------------------

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
        short_text = bare(text) if keeps_text(len(fp.shingles)) else None
        locks = {_hash64(key), _hash64(fp.sha256), *fp.bands}
        while True:
            with self.engine.begin() as conn:
                self._lock_keys(conn, locks)
                rows = conn.execute(_OWN_AND_TWIN, {"key": key, "sha256": fp.sha256}).all()
                old = next((r for r in rows if r.key == key), None)
                if old is not None and old.sha256 == fp.sha256:
                    return _record(old)
                old_bands = np.frombuffer(old.bands, "<i8").tolist() if old is not None else []
                if self._must_widen(locks, old_bands):
                    continue  # a changed text: its old band keys too, from the start
                before = old.seq if old is not None else _NEVER
                # A corrected canonical stays one: its reprints are measured against the new text.
                canonical_of = old is not None and old.canonical == key
                others = (
                    conn.execute(_OTHERS, {"cluster": old.cluster, "key": key}).all()
                    if canonical_of
                    else []
                )
                if self._must_widen(locks, [_hash64(o.key) for o in others]):
                    continue  # their rows change too
                twin = next((r for r in rows if r.key != key and r.seq < before), None)
                if others:
                    record = {
                        "cluster": old.cluster,
                        "canonical": key,
                        "similarity": 1.0,
                        "exact": False,
                    }
                    stored = fp.bands
                    conn.execute(
                        _SET_SIMILARITY,
                        [
                            {
                                "member": o.seq,
                                "new_exact": o.sha256 == fp.sha256,
                                "new_similarity": _similarity(fp, o.shingles),
                            }
                            for o in others
                        ],
                    )
                elif twin is not None:  # an exact duplicate: its cluster has all its band keys
                    record, stored = {**_record(twin), "exact": True}, []
                else:
                    record, stored = self._match(conn, fp, short_text, before)
                    record = record or {
                        "cluster": key,
                        "canonical": key,
                        "similarity": 1.0,
                        "exact": False,
                    }
                values = row_values(key, paper, date, fp, record, stored, short_text)
                if old is None:
                    values["archived_at"] = datetime.now(timezone.utc)
                    seq = conn.execute(_INSERT, values).inserted_primary_key[0]
                else:
                    seq = old.seq
                    conn.execute(_UPDATE, {**values, "old_seq": seq})
                    if old_bands:
                        conn.execute(_DELETE_BANDS, {"old_seq": seq, "old": old_bands})
                if stored:
                    conn.execute(
                        _insert_bands(len(stored)),
                        {"article": seq, **{f"b{i}": b for i, b in enumerate(stored)}},
                    )
                return record

    def _match(
        self, conn, fp: Fingerprint, short_text: str | None, before: int
    ) -> tuple[dict | None, list[int]]:
        """The record of the best verified match among the articles archived before
        `before` (None: a new story), and the band keys the article adds to the index.
        A match involving a short text holds only if alignment confirms it."""
        if not fp.bands:
            return None, []
        postings = conn.execute(_CANDIDATES, {"bands": fp.bands, "before": before}).all()
        hits: dict[int, int] = {}
        covered: dict[str, set[int]] = {}
        for p in postings:
            hits[p.seq] = hits.get(p.seq, 0) + 1
            covered.setdefault(p.cluster, set()).add(p.band)
        candidates = {p.seq: p for p in postings}
        per_cluster: dict[str, int] = {}
        chosen = []
        for c in sorted(candidates.values(), key=lambda c: (-hits[c.seq], c.seq)):
            if (
                size_allows_reprint(c.size, len(fp.shingles))
                and per_cluster.get(c.cluster, 0) < VERIFY_PER_CLUSTER
            ):
                per_cluster[c.cluster] = per_cluster.get(c.cluster, 0) + 1
                chosen.append(c)
        best, best_jaccard, sets = None, -1.0, {}
        if chosen:
            # Only the chosen candidates' sets (and their canonicals', for `similarity`) are read.
            wanted = {c.key for c in chosen} | {c.canonical for c in chosen}
            sets = {row.key: row for row in conn.execute(_SETS, {"keys": list(wanted)})}
        for c in chosen:  # most band hits first: ties go to the earlier article
            o = overlap(fp.shingles, unpack(sets[c.key].shingles))
            if (
                is_reprint(o)
                and o.jaccard > best_jaccard
                and _aligned(fp, short_text, c.size, sets[c.key].short_text)
            ):
                best, best_jaccard = c, o.jaccard
        if best is None:
            return None, fp.bands
        record = {
            "cluster": best.cluster,
            "canonical": best.canonical,
            "similarity": _similarity(fp, sets[best.canonical].shingles),
            "exact": False,
        }
        return record, [b for b in fp.bands if b not in covered[best.cluster]]

    def cluster_of(self, key: str) -> list[dict]:
        """Every archived reprint of `key`'s story, in archive order (canonical first).

        Members are dicts: paper, date, key, similarity (to the canonical), canonical.
        Empty when `key` was never archived.
        """
        with self.engine.connect() as conn:
            cluster = conn.execute(_CLUSTER, {"key": key}).scalar()
            return [dict(row._mapping) for row in conn.execute(_MEMBERS, {"cluster": cluster})]

    def widest_clusters(
        self, date_from: str | None = None, date_to: str | None = None, limit: int = 20
    ) -> list[dict]:
        """The stories printed by the most papers (then in the most copies), counting the
        copies dated within [date_from, date_to] (YYYY-MM-DD, both optional); clusters
        with one copy there are left out. Dicts: cluster, papers, copies, first, last
        (dates), canonical."""
        c = articles.c
        papers, copies = func.count(func.distinct(c.paper)), func.count()
        query = (
            select(
                c.cluster,
                papers.label("papers"),
                copies.label("copies"),
                func.min(c.date).label("first"),
                func.max(c.date).label("last"),
                func.min(c.canonical).label("canonical"),
            )
            .group_by(c.cluster)
            .having(copies > 1)
            .order_by(papers.desc(), copies.desc(), func.min(c.date), c.cluster)
            .limit(limit)
        )
        if date_from:
            query = query.where(c.date >= date_from)
        if date_to:
            query = query.where(c.date <= date_to)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]


def _aligned(fp: Fingerprint, short_text: str | None, size: int, other: str | None) -> bool:
    """Whether alignment confirms a match that passed the overlap test: always for long
    texts, and for a short one when the two bare texts are copies of one text. A
    candidate archived before texts were kept (None) keeps the overlap test's verdict."""
    if not needs_alignment(len(fp.shingles), size) or other is None or short_text is None:
        return True
    return same_story(short_text, other)


def _add_short_text(conn: Connection) -> None:
    """Catalogs made before short texts were kept gain the column (NULL in old rows)."""
    if "short_text" not in {c["name"] for c in inspect(conn).get_columns(articles.name)}:
        conn.execute(text(f"ALTER TABLE {articles.name} ADD COLUMN short_text TEXT"))


class SqliteCatalog(Catalog):
    """One file, one machine. SQLite has one writer: each assign is a BEGIN IMMEDIATE
    transaction, which holds the database's write lock before it reads candidates, so
    assigns need no locks of their own. An edition's lock is a file lock beside it."""

    backend = "sqlite"

    def _checked_url(self, url: URL) -> URL:
        if url.database in (None, "", ":memory:"):
            raise CatalogError(
                "a SQLite catalog needs a file (sqlite:///<file>): an in-memory "
                "one would forget every cluster when the process ends"
            )
        self._publish_lock = f"{url.database}.publish.lock"
        return url

    def _create_engine(self, url: URL) -> Engine:
        engine = create_engine(url, connect_args={"timeout": 60})  # wait for the write lock
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    @contextmanager
    def edition_lock(self, paper: str, date: str) -> Iterator[None]:
        # One file for every edition: publishes to one SQLite catalog are one machine's.
        with open(self._publish_lock, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sqlite_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _sqlite_begin)
    # WAL: readers never block the writer; NORMAL: no fsync per commit (WAL stays consistent).
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def _sqlite_begin(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading candidates


_XACT_LOCKS = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k")
_SCHEMA_LOCK = text("SELECT pg_advisory_xact_lock(1701867888)")
_SESSION_LOCK = text("SELECT pg_advisory_lock(:key)")
_SESSION_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


class PostgresCatalog(Catalog):
    """Shared by every worker. An assign takes transaction-scoped advisory locks on the
    keys it reads, sorted, in one statement; an edition's lock is a session advisory lock,
    so a publisher that dies lets go with its connection."""

    backend = "postgresql"
    postgres = True

    def _checked_url(self, url: URL) -> URL:
        if url.drivername == "postgresql":
            return url.set(drivername="postgresql+psycopg")  # the installed driver
        return url

    def _create_engine(self, url: URL) -> Engine:
        return create_engine(url)

    def _lock_schema(self, conn: Connection) -> None:
        conn.execute(_SCHEMA_LOCK)

    def _lock_keys(self, conn: Connection, keys: set[int]) -> None:
        conn.execute(_XACT_LOCKS, {"keys": sorted(keys)})

    def _must_widen(self, keys: set[int], wanted: Iterable[int]) -> bool:
        wanted = set(wanted)
        if keys.issuperset(wanted):
            return False
        keys.update(wanted)
        return True

    @contextmanager
    def edition_lock(self, paper: str, date: str) -> Iterator[None]:
        key = _hash64(f"publish:{paper}:{date}")
        with self.engine.connect() as conn:
            conn.execute(_SESSION_LOCK, {"key": key})
            try:
                yield
            finally:
                conn.execute(_SESSION_UNLOCK, {"key": key})
                conn.commit()


_BACKENDS = {cls.backend: cls for cls in (SqliteCatalog, PostgresCatalog)}


def _backend_class(url: URL) -> type[Catalog]:
    try:
        return _BACKENDS[url.get_backend_name()]
    except KeyError:
        raise CatalogError(
            f"catalog database {url.render_as_string(hide_password=True)}: only "
            f"{' and '.join(_BACKENDS)} catalogs are supported"
        ) from None
