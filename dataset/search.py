"""The full-text search index of every archived article, in the catalog's database.

Derived data, never the record: `rebuild` makes it again from the bucket's article JSON, and
flows.steps.index_edition keeps it current at every publish. SQLite (FTS5, in the catalog's
file by default) or PostgreSQL (a tsvector with a GIN index) when EPAPER_CATALOG_URL names one;
both hold the same tokens (text/segment.py: jieba words to rank, character bigrams to match).

    search_docs     one row per article key: its fields, its text (zlib), its tokens
    search_fts      SQLite only: a contentless FTS5 table (words, grams, tails), rowid = id
    search_papers   the region of each paper (from the papers catalogue), for the region filter

`wire` of an article: its reprint cluster holds more than one paper; kept for every member of
a cluster that an add touches, so a story's first copy turns wire when another paper reprints it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    cast,
    column,
    create_engine,
    delete,
    event,
    func,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles

from papers.catalogue import ConfigError, parse_date
from storage.archive import Archive
from storage.catalog import CatalogError, _catalog_url
from text.segment import Term, Terms, index_terms, parse_query

BATCH = 500  # articles per transaction
SNIPPET_CHARS = 120
MAX_LIMIT = 1000
# Weights of the words, grams and tails columns: a hit on a jieba word ranks first.
WEIGHTS = (10.0, 1.0, 1.0)
# PostgreSQL: words are weight A, grams D, tails C; ts_rank's weights are {D, C, B, A}.
_PG_WEIGHTS = "{0.1, 0.1, 0.2, 1.0}"
_PG_LABELS = ("A", "D", "C")
_PG_MAX_POSITION = 16383  # PostgreSQL's: later positions are all 16383
_PG_MAX_POSITIONS = 256  # positions kept per lexeme

metadata = MetaData()
docs = Table(
    "search_docs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("paper", String(64), nullable=False),
    Column("date", String(10), nullable=False),
    Column("month", String(7), nullable=False),
    Column("page_no", Integer, nullable=False),
    Column("page_name", String(256), nullable=False),
    Column("title", String(1024), nullable=False),
    Column("cluster", String(512), nullable=False),
    Column("canonical", String(512), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("wire", Boolean, nullable=False, default=False),
    Column("digest", String(64), nullable=False),  # of what is indexed: unchanged → no write
    # zlib of the text, then NUL, then kicker, title and subtitle: for snippets
    Column("body", LargeBinary, nullable=False),
    Column("terms", LargeBinary, nullable=False),  # zlib of the tokens: FTS5 deletes need them
    Index("ix_search_docs_date", "date"),
    Index("ix_search_docs_paper_date", "paper", "date"),
    Index("ix_search_docs_cluster", "cluster"),
)
papers_regions = Table(
    "search_papers",
    metadata,
    Column("paper", String(64), primary_key=True),
    Column("region", String(256), nullable=False),
)

_FIELDS = (
    docs.c.id,
    docs.c.key,
    docs.c.paper,
    docs.c.date,
    docs.c.page_no,
    docs.c.page_name,
    docs.c.title,
    docs.c.cluster,
    docs.c.canonical,
    docs.c.similarity,
    docs.c.body,
)
_EXISTING = select(docs.c.id, docs.c.key, docs.c.digest, docs.c.cluster, docs.c.terms).where(
    docs.c.key.in_(bindparam("keys", expanding=True))
)
_members = docs.alias("members")
_SET_WIRE = (
    update(docs)
    .where(docs.c.cluster.in_(bindparam("clusters", expanding=True)))
    .values(
        wire=select(func.count(func.distinct(_members.c.paper)))
        .where(_members.c.cluster == docs.c.cluster)
        .scalar_subquery()
        > 1
    )
)
_IDS = select(docs.c.id, docs.c.key).where(docs.c.key.in_(bindparam("keys", expanding=True)))
# PostgreSQL's table: the same columns and the tsvector, with its GIN index.
_pg_metadata = MetaData()
_pg_docs = Table(
    "search_docs",
    _pg_metadata,
    *(c._copy() for c in docs.columns),
    Column("tsv", postgresql.TSVECTOR, nullable=False),
    *(Index(i.name, *(c.name for c in i.columns)) for i in docs.indexes),
    Index("ix_search_docs_tsv", "tsv", postgresql_using="gin"),
)
papers_regions.to_metadata(_pg_metadata)
_fts = table("search_fts", column("rowid"))
_READ = "search_read"  # execution option of a connection that only reads


# SQLite: the filters read a narrow covering index, not the wide rows (the texts): at 1M
# articles a match's row lookup was most of a search. The planner does not pick it alone.
_FILTER_INDEX = "ix_search_docs_filter"
_FILTER_COLUMNS = "id, date, paper, month, wire, page_name"


@compiles(Table, "sqlite")
def _sqlite_from_hint(element, compiler, **kw):
    """SQLAlchemy's SQLite compiler drops FROM hints (`INDEXED BY`): render them."""
    sql = compiler.visit_table(element, **kw)
    hint = (kw.get("fromhints") or {}).get(element) if kw.get("asfrom") else None
    return f"{sql} {hint}" if hint else sql


class SearchError(ValueError):
    """A search the index cannot run as asked: a bad filter, an empty query."""


def _pack(s: str) -> bytes:
    return zlib.compress(s.encode("utf-8"), 1)  # a third of the size, at little CPU


def _unpack(b: bytes) -> str:
    return zlib.decompress(b).decode("utf-8")


def _row(article: dict) -> tuple[dict, Terms]:
    """The docs row of an archived article (its JSON plus "key") and its tokens."""
    key = article["key"]
    body = article.get("text") or "\n".join(article.get("paragraphs") or [])
    heads = [article.get(f) or "" for f in ("kicker", "title", "subtitle")]
    terms = index_terms(*heads, body)
    dedupe = article.get("dedupe") or {}
    row = {
        "key": key,
        "paper": article["paper"],
        "date": article["date"],
        "month": article["date"][:7],
        "page_no": int(article.get("page_no") or 0),
        "page_name": article.get("page_name") or "",
        "title": article.get("title") or "",
        "cluster": dedupe.get("cluster") or key,
        "canonical": dedupe.get("canonical") or key,
        "similarity": float(dedupe.get("similarity", 1.0)),
        "body": body,
    }
    row["digest"] = hashlib.sha256(
        "\x00".join(str(v) for v in [*row.values(), *heads]).encode()
    ).hexdigest()
    row["body"] = _pack("\x00".join([body, *heads]))
    row["terms"] = _pack("\x00".join((terms.words, terms.grams, terms.tails)))
    return row, terms


def _date(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    try:
        return parse_date(str(value)).isoformat()
    except ConfigError:
        raise SearchError(f"{what} {value!r}: expected YYYY-MM-DD") from None


class SearchIndex:
    """The index at `url` (default: the dedupe catalog's database). A context manager."""

    def __init__(self, url: str | None = None):
        url_ = _catalog_url(url)
        self.backend = _BACKENDS.get(url_.get_backend_name())
        if self.backend is None:
            raise CatalogError(
                f"search index database {url_.render_as_string(hide_password=True)}: "
                f"only {' and '.join(_BACKENDS)} are supported"
            )
        self.url = url_.render_as_string(hide_password=True)
        self.engine = self.backend.engine(url_)
        try:
            with self.engine.begin() as conn:
                self.backend.create(conn)
        except OperationalError as exc:
            self.engine.dispose()
            raise CatalogError(
                f"search index database {self.url} is unreachable: {exc.orig}"
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def add(self, articles: Iterable[dict], regions: dict[str, str] | None = None) -> int:
        """Index archived articles (their JSON plus "key"); a key indexed before is replaced
        when what is indexed of it changed. Returns how many rows were written."""
        written = 0
        with self.engine.begin() as conn:
            if regions:
                self._set_regions(conn, regions)
        batch: list[dict] = []
        for article in articles:
            batch.append(article)
            if len(batch) == BATCH:
                written += self._add_batch(batch)
                batch = []
        if batch:
            written += self._add_batch(batch)
        return written

    def _set_regions(self, conn: Connection, regions: dict[str, str]) -> None:
        rows = [{"paper": p, "region": r} for p, r in regions.items() if r]
        if rows:
            stmt = self.backend.dialect.insert(papers_regions).values(rows)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["paper"], set_={"region": stmt.excluded.region}
                )
            )

    def _add_batch(self, articles: list[dict]) -> int:
        built = {a["key"]: _row(a) for a in articles}  # the CPU work, outside the transaction
        with self.engine.begin() as conn:
            old = {r.key: r for r in conn.execute(_EXISTING, {"keys": list(built)})}
            changed = {
                k: v for k, v in built.items() if k not in old or old[k].digest != v[0]["digest"]
            }
            if not changed:
                return 0
            replaced = [old[k] for k in changed if k in old]
            if replaced:
                self.backend.unindex(conn, replaced)
                conn.execute(delete(docs).where(docs.c.id.in_([r.id for r in replaced])))
            self.backend.insert(conn, list(changed.values()))
            clusters = {row["cluster"] for row, _ in changed.values()} | {
                r.cluster for r in replaced
            }
            conn.execute(_SET_WIRE, {"clusters": sorted(clusters)})
        return len(changed)

    def clear(self) -> None:
        with self.engine.begin() as conn:
            self.backend.clear(conn)
            conn.execute(delete(docs))

    def rebuild(self, archive: Archive, regions: dict[str, str] | None = None) -> int:
        """The index made again from the bucket alone: every article's latest version."""
        self.clear()
        keys = (k for k in archive.list("articles/") if k.endswith(".json"))
        return self.add(_fetched(archive, keys), regions)

    # -- reading -----------------------------------------------------------------------

    def _where(
        self,
        query: str,
        paper=None,
        date_from=None,
        date_to=None,
        page=None,
        region=None,
        wire=None,
    ) -> tuple[list, list[Term]]:
        """The match and filter clauses of a search, and its terms."""
        try:
            terms = parse_query(query or "")
        except ValueError as exc:
            raise SearchError(str(exc)) from None
        date_from, date_to = _date(date_from, "date_from"), _date(date_to, "date_to")
        if date_from and date_to and date_from > date_to:
            raise SearchError(f"date range {date_from} to {date_to} runs backwards")
        where = [self.backend.match(terms)]
        refine = self.backend.refine(terms)
        if paper:
            where.append(docs.c.paper == paper)
        if date_from:
            where.append(docs.c.date >= date_from)
        if date_to:
            where.append(docs.c.date <= date_to)
        if page:
            where.append(docs.c.page_name.contains(page, autoescape=True))
        if region:
            where.append(
                docs.c.paper.in_(
                    select(papers_regions.c.paper).where(
                        papers_regions.c.region.contains(region, autoescape=True)
                    )
                )
            )
        if wire is not None:
            where.append(docs.c.wire.is_(bool(wire)))
        if refine is not None:  # last: evaluated on what the index and the filters leave
            where.append(refine)
        return where, terms

    def search(
        self,
        query: str,
        *,
        paper: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        page: str | None = None,
        region: str | None = None,
        wire: bool | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> dict:
        """The best `limit` hits after `offset`, with facet counts (per paper, per month)
        and hits per month over all matches. SearchError on a bad query or filter."""
        if not 0 <= limit <= MAX_LIMIT or offset < 0:
            raise SearchError(f"limit {limit} / offset {offset}: limit 0..{MAX_LIMIT}, offset >= 0")
        where, terms = self._where(query, paper, date_from, date_to, page, region, wire)
        score = self.backend.score(terms)
        # Rank the matches by id and score alone, then read the fields of the page of hits:
        # sorting whole rows would read every match's text.
        best = (
            self.backend.select_from(select(docs.c.id, score.label("score")))
            .where(*where)
            .order_by(score.desc(), docs.c.date.desc(), docs.c.id)
            .limit(limit)
            .offset(offset)
            .subquery()
        )
        ranked = (
            select(*_FIELDS, best.c.score)
            .join_from(best, docs, docs.c.id == best.c.id)
            .order_by(best.c.score.desc(), docs.c.date.desc(), docs.c.id)
        )
        counts = (
            self.backend.select_from(select(docs.c.paper, docs.c.month, func.count()))
            .where(*where)
            .group_by(docs.c.paper, docs.c.month)
        )
        with self.engine.connect().execution_options(**{_READ: True}) as conn:
            rows = conn.execute(ranked).all()
            grouped = conn.execute(counts).all()
        by_paper, by_month = Counter(), Counter()
        for p, m, n in grouped:
            by_paper[p] += n
            by_month[m] += n
        months = sorted(by_month)
        return {
            "query": query,
            "total": sum(by_paper.values()),
            "hits": [_hit(r, terms) for r in rows],
            "facets": {
                "paper": dict(by_paper.most_common()),
                "month": {m: by_month[m] for m in months},
            },
            "series": [{"month": m, "hits": by_month[m]} for m in _month_range(months)],
        }

    def count(self) -> int:
        """How many articles the index holds."""
        with self.engine.connect().execution_options(**{_READ: True}) as conn:
            return conn.execute(select(func.count()).select_from(docs)).scalar()

    def keys(self, query: str, **filters) -> Iterator[str]:
        """Every key matching `query` and the filters of `search`, by date then key."""
        where, _ = self._where(query, **filters)
        stmt = (
            self.backend.select_from(select(docs.c.key))
            .where(*where)
            .order_by(docs.c.date, docs.c.key)
        )
        with self.engine.connect().execution_options(**{_READ: True}) as conn:
            for (key,) in conn.execution_options(yield_per=1000).execute(stmt):
                yield key


def _fetched(archive: Archive, keys: Iterable[str], window: int = 256) -> Iterator[dict]:
    """The latest version of each article JSON, in key order; up to `window` requests ahead
    on 8 threads (the client's pool holds 10), so fetching overlaps with indexing."""

    def get(key: str) -> dict:
        return {**json.loads(archive.get(key)), "key": key}

    with ThreadPoolExecutor(max_workers=8) as pool:
        pending: deque = deque()
        for key in keys:
            pending.append(pool.submit(get, key))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _month_range(months: list[str]) -> list[str]:
    """Every month from the first to the last: a series has no holes."""
    if not months:
        return []
    y, m = map(int, months[0].split("-"))
    out = []
    while (current := f"{y:04d}-{m:02d}") <= months[-1]:
        out.append(current)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _hit(row, terms: list[Term]) -> dict:
    return {
        "key": row.key,
        "paper": row.paper,
        "date": row.date,
        "page_no": row.page_no,
        "page_name": row.page_name,
        "title": row.title,
        "snippet": snippet(*_unpack(row.body).split("\x00"), terms=terms),
        "cluster": row.cluster,
        "canonical": row.canonical,
        "similarity": row.similarity,
        "score": round(float(row.score), 4),
    }


def _pattern(terms: list[Term]) -> re.Pattern | None:
    # A term's text with optional whitespace between its characters: the text keeps
    # the spaces of Latin words and may keep a line break.
    alternatives = sorted(
        ("\\s*".join(re.escape(ch) for ch in t.text if not ch.isspace()) for t in terms),
        key=len,
        reverse=True,
    )
    alternatives = [a for a in alternatives if a]
    return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None


def snippet(body: str, *heads: str, terms: list[Term], width: int = SNIPPET_CHARS) -> list[list]:
    """A window of `body` around its first match, as [text, matched] pairs; of the first
    of `heads` (kicker, title, …) that matches where the body does not; else the body's start."""
    pattern = _pattern(terms)
    for source in (body, *heads):
        flat = source.replace("\n", " ")
        matches = list(pattern.finditer(flat)) if pattern else []
        if matches:
            break
    else:
        flat = body.replace("\n", " ")
        return [[flat[:width] + ("…" if len(flat) > width else ""), False]]
    start = max(0, matches[0].start() - width // 4)
    end = min(len(flat), start + width)
    pairs: list[list] = [["…", False]] if start else []
    pos = start
    for m in matches:
        if m.start() < pos or m.end() > end:
            continue
        if m.start() > pos:
            pairs.append([flat[pos : m.start()], False])
        pairs.append([m.group(), True])
        pos = m.end()
    if pos < end:
        pairs.append([flat[pos:end], False])
    if end < len(flat):
        pairs.append(["…", False])
    return pairs


# -- the two backends ----------------------------------------------------------------


def _fts_phrase(tokens: Iterable[str]) -> str:
    # Tokens are word characters only (text/segment.py): nothing in them is FTS5 syntax.
    return '"' + " ".join(tokens) + '"'


class _Sqlite:
    """FTS5, contentless: the tokens are in search_docs.terms, to delete a replaced row."""

    name = "sqlite"
    dialect = sqlite

    @staticmethod
    def engine(url):
        if url.database in (None, "", ":memory:"):
            raise CatalogError("a SQLite search index needs a file (sqlite:///<file>)")
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine

    @staticmethod
    def create(conn: Connection) -> None:
        metadata.create_all(conn)
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(words, grams, tails, "
            "content='', tokenize='unicode61 remove_diacritics 0')"
        )
        conn.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {_FILTER_INDEX} ON search_docs({_FILTER_COLUMNS})"
        )

    @staticmethod
    def insert(conn: Connection, built: list[tuple[dict, Terms]]) -> None:
        conn.execute(docs.insert(), [row for row, _ in built])
        ids = {k: i for i, k in conn.execute(_IDS, {"keys": [row["key"] for row, _ in built]})}
        conn.exec_driver_sql(
            "INSERT INTO search_fts(rowid, words, grams, tails) VALUES (?, ?, ?, ?)",
            [(ids[row["key"]], t.words, t.grams, t.tails) for row, t in built],
        )

    @staticmethod
    def unindex(conn: Connection, rows) -> None:
        conn.exec_driver_sql(
            "INSERT INTO search_fts(search_fts, rowid, words, grams, tails) "
            "VALUES ('delete', ?, ?, ?, ?)",
            [(r.id, *_unpack(r.terms).split("\x00")) for r in rows],
        )

    @staticmethod
    def clear(conn: Connection) -> None:
        conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('delete-all')")

    @staticmethod
    def match(terms: list[Term]):
        parts = []
        for t in terms:
            if t.char:
                parts.append(f'(grams : "{t.char}" * OR tails : "{t.char}")')
            else:
                alts = [f"grams : {_fts_phrase(t.grams)}"]
                if t.words:
                    alts.append(f"words : {_fts_phrase(t.words)}")
                parts.append("(" + " OR ".join(alts) + ")")
        return text("search_fts MATCH :fts").bindparams(fts=" AND ".join(parts))

    @staticmethod
    def refine(terms: list[Term]):
        return None  # FTS5 answers phrases from its index

    @staticmethod
    def score(terms):
        # bm25 is lower for better hits
        return -func.bm25(literal_column("search_fts"), *WEIGHTS)

    @staticmethod
    def select_from(stmt):
        return stmt.select_from(docs.join(_fts, _fts.c.rowid == docs.c.id)).with_hint(
            docs, f"INDEXED BY {_FILTER_INDEX}", "sqlite"
        )


def _sqlite_begin(conn) -> None:
    # A write takes the write lock before it reads (no failed upgrade); a search, under WAL,
    # never waits for a writer.
    read = conn.get_execution_options().get(_READ)
    conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def _sqlite_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's begin event emits BEGIN IMMEDIATE
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: Terms) -> str:
    """The tokens as a tsvector: words weight A, grams D, tails C, positions in text order
    (each field after the last), so phrases match as in FTS5."""
    positions: dict[tuple[str, str], list[int]] = {}
    pos = 0
    for field, label in zip((terms.words, terms.grams, terms.tails), _PG_LABELS):
        for token in field.split():
            pos = min(pos + 1, _PG_MAX_POSITION)
            kept = positions.setdefault((token, label), [])
            if len(kept) < _PG_MAX_POSITIONS and (not kept or kept[-1] != pos):
                kept.append(pos)
        pos = min(pos + 1, _PG_MAX_POSITION)  # no phrase spans two fields
    return " ".join(
        f"{_lexeme(tok)}:{','.join(f'{p}{label}' for p in ps)}"
        for (tok, label), ps in positions.items()
    )


def tsquery_literal(terms: list[Term]) -> str:
    """The query as FTS5 reads it: each term's grams as a phrase of weight D, or its words
    as a phrase of weight A. Only a row's tsvector can answer it (positions, weights)."""
    parts = []
    for t in terms:
        if t.char:
            parts.append(f"({_lexeme(t.char)}:*D | {_lexeme(t.char)}:C)")
            continue
        alts = [" <-> ".join(f"{_lexeme(g)}:D" for g in t.grams)]
        if t.words:
            alts.append(" <-> ".join(f"{_lexeme(w)}:A" for w in t.words))
        parts.append("(" + " | ".join(f"({a})" for a in alts) + ")")
    return " & ".join(parts)


def tsquery_lexemes(terms: list[Term]) -> str:
    """What the GIN index answers alone, without reading any row: each term's grams (or
    words) present, anywhere, of any weight. The same rows as tsquery_literal when no term
    is a phrase (a query of two-character words), else a few more."""
    parts = []
    for t in terms:
        if t.char:
            parts.append(f"{_lexeme(t.char)}:*")
            continue
        alts = [" & ".join(dict.fromkeys(map(_lexeme, t.grams)))]
        if t.words and t.words != t.grams:
            alts.append(" & ".join(dict.fromkeys(map(_lexeme, t.words))))
        parts.append("(" + " | ".join(f"({a})" for a in alts) + ")")
    return " & ".join(parts)


def _phrases(terms: list[Term]) -> bool:
    return any(len(t.grams) > 1 or len(t.words) > 1 for t in terms if not t.char)


class _Postgres:
    name = "postgresql"
    dialect = postgresql

    @staticmethod
    def engine(url):
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # the installed driver
        return create_engine(url)

    @staticmethod
    def create(conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(1701867889)"))  # workers start together
        _pg_metadata.create_all(conn)

    @staticmethod
    def insert(conn: Connection, built: list[tuple[dict, Terms]]) -> None:
        # The tokens need not be kept: a replaced row's tsvector goes with it.
        conn.execute(
            _pg_docs.insert().values(
                tsv=cast(bindparam("tsv_text", type_=String), postgresql.TSVECTOR)
            ),
            [{**row, "terms": b"", "tsv_text": tsvector_literal(t)} for row, t in built],
        )

    @staticmethod
    def unindex(conn: Connection, rows) -> None:
        pass  # the row's tsvector goes with its row

    @staticmethod
    def clear(conn: Connection) -> None:
        pass

    # A weight or a phrase in the indexed query would make PostgreSQL read and recheck the
    # tsvector of every row the index names, before the date filter: most of a search's
    # time at 1M articles. So the index answers the lexemes alone, and a phrase is checked
    # last, on the rows the filters keep, through the function (no index takes it).
    @staticmethod
    def match(terms: list[Term]):
        return text("tsv @@ CAST(:tsq AS tsquery)").bindparams(tsq=tsquery_lexemes(terms))

    @staticmethod
    def refine(terms: list[Term]):
        if not _phrases(terms):
            return None
        return func.ts_match_vq(
            literal_column("tsv"),
            cast(bindparam("tsq_phrase", tsquery_literal(terms), type_=String), postgresql.TSQUERY),
        )

    @staticmethod
    def score(terms):
        return func.ts_rank(
            literal_column(f"'{_PG_WEIGHTS}'::float4[]"),
            literal_column("tsv"),
            cast(bindparam("tsq_rank", tsquery_literal(terms), type_=String), postgresql.TSQUERY),
        )

    @staticmethod
    def select_from(stmt):
        return stmt.select_from(docs)


_BACKENDS = {b.name: b for b in (_Sqlite, _Postgres)}


# -- the CLI's output formats ----------------------------------------------------------

HIT_COLUMNS = (
    "key",
    "paper",
    "date",
    "page_no",
    "page_name",
    "title",
    "cluster",
    "canonical",
    "similarity",
    "score",
    "snippet",
)


def plain_snippet(pairs: list[list], mark: tuple[str, str] = ("", "")) -> str:
    """A snippet as one string, each matched part between `mark`."""
    return "".join(f"{mark[0]}{t}{mark[1]}" if matched else t for t, matched in pairs)


def _table(result: dict, out) -> None:
    for hit in result["hits"]:
        out.write(
            f"{hit['date']}  {hit['paper']:10} {hit['page_no']:>3} {hit['page_name']}  "
            f"{hit['title'] or '(untitled)'}\n    {hit['key']}  (cluster {hit['cluster']})\n"
            f"    {plain_snippet(hit['snippet'], ('【', '】'))}\n"
        )
    papers = ", ".join(f"{p} {n}" for p, n in result["facets"]["paper"].items())
    shown = f", {len(result['hits'])} shown" if result["total"] > len(result["hits"]) else ""
    out.write(f"{result['total']} hits{shown}" + (f" (papers: {papers})" if papers else "") + "\n")


def _jsonl(result: dict, out) -> None:
    for hit in result["hits"]:
        out.write(json.dumps(hit, ensure_ascii=False) + "\n")


def _csv(result: dict, out) -> None:
    import csv

    writer = csv.DictWriter(out, HIT_COLUMNS)
    writer.writeheader()
    for hit in result["hits"]:
        writer.writerow({**hit, "snippet": plain_snippet(hit["snippet"])})


# jsonl keeps the snippet's [text, matched] pairs; csv has its plain text.
FORMATS = {"table": _table, "jsonl": _jsonl, "csv": _csv}


def write_results(result: dict, fmt: str, out) -> None:
    """`search`'s result on the text stream `out` as table, jsonl or csv."""
    FORMATS[fmt](result, out)
