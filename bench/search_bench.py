"""The search index (dataset/search.py) measured, figures and ratios from one run:

  latency   p50/p95 of a two-word query with a date filter (hits, facets and series: what
            `epaper search` and the reading room ask), at 100k and 1M synthetic articles, on
            SQLite FTS5 and PostgreSQL
  publish   the index update's share of the publish step (flows.steps.publish_edition on a
            real crawled replica edition, its index_edition timed inside it), into an empty
            index and into the 100k one
  rebuild   articles/s of `rebuild` from a bucket of distinct articles (SeaweedFS)
  quality   recall@10 on a labelled query set from the seed pages, beside plain FTS5
            (unicode61, no segmentation) and an index of jieba words alone

Synthetic articles are the seed pages' sentences reshuffled: each article takes most of
its paragraphs from one seed story's sentence pool and a few from anywhere, on one of 60
papers, dated over three years, with 10% of them reprints of a recent article by another
paper (so wire/local means something). Their paragraphs come from a pool of 40,000, as
wire copy repeats paragraphs; the rebuild's articles are all distinct.

    python -m bench.search_bench            # 100k and 1M, both backends (hours on 2 cores)
    python -m bench.search_bench --quick    # 5k and 20k, a minute or two
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from bench import harness

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PAPERS = [f"p{i:02d}" for i in range(60)]
PAGES = ["01版：要闻", "02版：综合", "03版：经济", "04版：社会", "05版：理论", "08版：副刊"]
FIRST_DAY = date(2023, 1, 1)
DAYS = 3 * 365
PARAGRAPH_POOL = 40_000
REPRINT_SHARE = 0.10
QUERIES = 60
_SENTENCE = re.compile(r"[^。！？]+[。！？][”’」]?")


# --- the synthetic corpus ---------------------------------------------------------------


@cache
def sentence_pools() -> list[list[str]]:
    """Per seed story, its sentences (the seed pages' articles and labelled stories)."""
    from replica.corpus import seed_articles
    from replica.labelled_dedupe import stories

    texts = ["".join(a.paragraphs) for a in seed_articles() if a.kind == "news"]
    texts += ["".join(p) for p in stories().values()]
    pools = [[s for s in _SENTENCE.findall(t) if len(s) > 8] for t in texts]
    return [p for p in pools if len(p) >= 3]


def _paragraph(rng: random.Random, pool: list[str]) -> str:
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 4)))


@cache
def paragraph_pool() -> list[tuple[int, str]]:
    rng = random.Random(7)
    pools = sentence_pools()
    out = []
    for _ in range(PARAGRAPH_POOL):
        topic = rng.randrange(len(pools))
        out.append((topic, _paragraph(rng, pools[topic])))
    return out


@cache
def _by_topic() -> dict[int, list[str]]:
    by: dict[int, list[str]] = {}
    for topic, p in paragraph_pool():
        by.setdefault(topic, []).append(p)
    return by


def synthetic(start: int, stop: int, distinct: bool = False) -> Iterator[dict]:
    """Articles start..stop-1, as archived (JSON plus key), by date; the same for the same i."""
    pools, pool, by_topic = sentence_pools(), paragraph_pool(), _by_topic()
    recent: list[dict] = []
    for i in range(start, stop):
        rng = random.Random(i)
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        paper = PAPERS[rng.randrange(len(PAPERS))]
        page_no = rng.randrange(len(PAGES))
        if recent and rng.random() < REPRINT_SHARE:
            source = rng.choice(recent)
            paras = source["paragraphs"][: rng.randint(1, len(source["paragraphs"]))]
            title, dedupe = source["title"], {**source["dedupe"], "similarity": 0.8}
            day = min(date.fromisoformat(source["date"]) + timedelta(days=rng.randrange(4)), day)
            day = max(day, date.fromisoformat(source["date"]))
        else:
            topic = rng.randrange(len(pools))
            if distinct:
                paras = [_paragraph(rng, pools[topic]) for _ in range(rng.randint(2, 7))]
            else:
                paras = [rng.choice(by_topic[topic]) for _ in range(rng.randint(2, 7))]
            paras.append(pool[rng.randrange(len(pool))][1])
            title, dedupe = paras[0][:18], None
        key = f"articles/{paper}/{day}/{page_no + 1:02d}/a{i}.json"
        article = {
            "key": key,
            "paper": paper,
            "date": day.isoformat(),
            "page_no": page_no + 1,
            "page_name": PAGES[page_no],
            "title": title,
            "paragraphs": paras,
            "text": "\n".join(paras),
            "dedupe": dedupe or {"cluster": key, "canonical": key, "similarity": 1.0},
        }
        recent = (recent + [article])[-200:]
        yield article


@cache
def query_words() -> list[list[str]]:
    """Per seed story, the words of two characters or more in at most 3 of all the
    sentences: a story's own words, in some 1-3% of the articles (a story is about 1/40 of
    them), as a researcher's terms are."""
    from collections import Counter

    from text.dedupe import words

    pools = [[set(words(s)) for s in pool] for pool in sentence_pools()]
    df = Counter(w for pool in pools for ws in pool for w in ws if len(w) >= 2)
    specific = [sorted({w for ws in pool for w in ws if df.get(w, 9) <= 3}) for pool in pools]
    return [ws for ws in specific if len(ws) >= 2]


def query_set(n: int) -> list[dict]:
    """Two words of one story and a 30, 60 or 90-day window."""
    rng = random.Random(11)
    vocab = query_words()
    out = []
    for _ in range(n):
        first = FIRST_DAY + timedelta(days=rng.randrange(DAYS - 90))
        out.append(
            {
                "query": " ".join(rng.sample(rng.choice(vocab), 2)),
                "date_from": first.isoformat(),
                "date_to": (first + timedelta(days=rng.choice((30, 60, 90)))).isoformat(),
            }
        )
    return out


# --- latency ----------------------------------------------------------------------------


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def latency(index, queries: list[dict]) -> dict:
    for q in queries[:3]:  # warm the caches
        index.search(**q)
    times, totals = [], []
    for q in queries:
        start = time.perf_counter()
        result = index.search(**q)
        times.append((time.perf_counter() - start) * 1000)
        totals.append(result["total"])
        unfiltered = q
    unfiltered = {"query": unfiltered["query"]}
    start = time.perf_counter()
    everywhere = index.search(**unfiltered)["total"]
    return {
        "p50": pct(times, 50),
        "p95": pct(times, 95),
        "hits_median": statistics.median(totals),
        "unfiltered_ms": (time.perf_counter() - start) * 1000,
        "unfiltered_hits": everywhere,
    }


@contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"search_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def grow(index, done: int, size: int, queries: list[dict], log, copy: bool) -> dict:
    """Index articles done..size-1 (copy: by copying the first `done`), time the queries."""
    start = time.perf_counter()
    if copy:
        rate = replicate(index, done, size, log)
    else:
        index.add(synthetic(done, size))
        rate = (size - done) / (time.perf_counter() - start)
    log(f"{index.backend.name}: {size} articles indexed ({rate:.0f}/s)")
    row = {"backend": index.backend.name, "size": size, "load_per_s": rate, "copied": copy}
    row |= latency(index, queries)
    log(json.dumps(row))
    return row


_COPY_COLUMNS = "page_no, page_name, title, similarity, wire, digest, body, terms"
# keys unique across copies of copies: the new id in each
_COPY_KEYS = "id + :shift, key || '#' || (id + :shift)"
_COPY_CLUSTER = "cluster || '#' || :shift, canonical || '#' || :shift"
# each copy on another paper, and on a date spread over the three years
_COPY = {
    "sqlite": [
        f"""INSERT INTO search_docs (id, key, paper, date, month, cluster, canonical,
            {_COPY_COLUMNS})
            SELECT {_COPY_KEYS}, 'p' || printf('%02d', (id + :c * 7) % 60), d, substr(d, 1, 7),
                   {_COPY_CLUSTER}, {_COPY_COLUMNS}
            FROM (SELECT *, date('2023-01-01', '+' || ((id * 7919 + :c * 104729) % 1095)
                         || ' days') AS d
                  FROM search_docs WHERE id BETWEEN :lo AND :hi)""",
        """INSERT INTO search_fts (rowid, words, grams, tails)
           SELECT id + :shift, unpack_terms(terms, 0), unpack_terms(terms, 1),
                  unpack_terms(terms, 2)
           FROM search_docs WHERE id BETWEEN :lo AND :hi""",
    ],
    "postgresql": [
        f"""INSERT INTO search_docs (id, key, paper, date, month, cluster, canonical,
            {_COPY_COLUMNS}, tsv)
            SELECT {_COPY_KEYS}, 'p' || lpad(((id + :c * 7) % 60)::text, 2, '0'), d,
                   substr(d, 1, 7), {_COPY_CLUSTER}, {_COPY_COLUMNS}, tsv
            FROM (SELECT *, to_char(DATE '2023-01-01' + ((id * 7919 + :c * 104729) % 1095)::int,
                                    'YYYY-MM-DD') AS d
                  FROM search_docs WHERE id BETWEEN :lo AND :hi) AS src"""
    ],
}


def replicate(index, base: int, size: int, log, chunk: int = 20_000) -> float:
    """Grow an index of `base` articles (ids 1..base) to `size` by copying their rows, each
    copy on another paper and date, tokens as they are: articles/s of the copy.

    On this shared 2-core machine tokenising a million texts takes hours; the copies keep
    the first `base` articles' vocabulary and make every posting list size/base times longer,
    which is what the latency at `size` depends on."""
    import zlib

    from sqlalchemy import event, text

    def unpack_terms(blob, i):
        return zlib.decompress(blob).decode().split("\x00")[i]

    if index.backend.name == "sqlite":
        event.listen(
            index.engine, "connect", lambda c, _: c.create_function("unpack_terms", 2, unpack_terms)
        )
        index.engine.dispose()  # new connections get the function
    start = time.perf_counter()
    for c in range(1, size // base):
        for lo in range(1, base + 1, chunk):
            params = {"c": c, "shift": c * base, "lo": lo, "hi": min(lo + chunk - 1, base)}
            with index.engine.begin() as conn:
                for statement in _COPY[index.backend.name]:
                    conn.execute(text(statement), params)
        log(f"{index.backend.name}: {(c + 1) * base} articles (copies)")
    with index.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return (size - base) / (time.perf_counter() - start)


# --- publish share and rebuild ----------------------------------------------------------


def publish_share(home: Path, index_url: str | None, log) -> dict:
    """publish_edition of a crawled replica edition; its index_edition timed inside it."""
    from flows import steps
    from replica import ReplicaServer, build_site
    from storage.archive import open_archive
    from storage.catalog import Catalog

    day = date(2025, 4, 28)
    site = build_site("founder-new", "bcrb", [day], skin="swiper", missing={})
    clock = {"index": 0.0}
    original = steps.index_edition

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            clock["index"] += time.perf_counter() - start

    work = home / f"publish-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    env = {"EPAPER_CATALOG_URL": index_url} if index_url else {}
    with ReplicaServer([site]) as server, harness.environment(**env):
        papers = harness.write_papers_file([site], server.base_url, work / "papers.yaml")
        from papers.catalogue import get_paper

        paper = get_paper(site.paper, papers)
        stats = steps.crawl_edition(paper, day, work)
        stats["region"] = paper.region
        steps.clean_edition(work)
        with Catalog() as catalog:
            steps.dedupe_edition(work, catalog)
        steps.index_edition = timed
        try:
            with open_archive() as archive:
                start = time.perf_counter()
                result = steps.publish_edition(work, archive, paper.id, day.isoformat(), stats)
                publish = time.perf_counter() - start
        finally:
            steps.index_edition = original
    out = {
        "articles": len(result["articles"]),
        "publish_s": publish,
        "index_s": clock["index"],
        "share": clock["index"] / publish,
    }
    log(f"publish share ({index_url or 'empty index'}): {json.dumps(out)}")
    return out


def rebuild_rate(n: int, log) -> dict:
    from dataset.search import SearchIndex
    from storage.archive import in_parallel, open_archive
    from text.segment import _unit

    with open_archive() as archive:
        articles = list(synthetic(0, n, distinct=True))
        in_parallel(
            (
                lambda a=a: archive.put(
                    a["key"],
                    json.dumps(
                        {k: v for k, v in a.items() if k != "key"}, ensure_ascii=False
                    ).encode(),
                    "application/json",
                )
                for a in articles
            ),
        )
        _unit.cache_clear()
        with SearchIndex() as index:
            start = time.perf_counter()
            count = index.rebuild(archive)
            seconds = time.perf_counter() - start
    out = {"articles": count, "seconds": seconds, "per_s": count / seconds}
    log(f"rebuild: {json.dumps(out)}")
    return out


# --- quality ----------------------------------------------------------------------------


def labelled_queries() -> tuple[list, list[dict]]:
    """The labelled reprint set (replica/labelled_dedupe.py: every story reprinted with the
    edits papers make, and near misses quoting wire paragraphs) and per story queries from
    its lead paragraph, of words no other story has (a query with an answer): its two top
    keywords, its rarest two-character word, a quoted 8-character phrase, the names in it;
    relevant: every article of the story."""
    from replica.labelled_dedupe import labelled_set, stories
    from text.dedupe import keywords, words

    articles = labelled_set()
    docs = {s: "\n".join(p) for s, p in stories().items()}
    df: dict[str, int] = {}
    for text in docs.values():
        for w in set(words(text)):
            df[w] = df.get(w, 0) + 1
    names = ("张赫", "李晓明", "王建夫", "刘泽祥", "宋宁华", "姚丽萍", "唐国宏", "陈吉宁", "龚正")
    queries = []
    for story, paras in stories().items():
        lead = re.sub(r"^\S*?电|^本报讯[（(][^）)]*[）)]", "", paras[0])
        relevant = {a.key for a in articles if a.story == story}
        lead_words = [w for w in words(lead) if len(w) >= 2]
        own = {w for w in lead_words if df[w] == 1}
        kws = [k for k in keywords(lead, k=20) if k in own][:2]
        if len(kws) == 2:
            queries.append({"kind": "keywords", "query": " ".join(kws), "relevant": relevant})
        two = sorted(w for w in own if len(w) == 2)
        if two:
            queries.append({"kind": "word", "query": two[0], "relevant": relevant})
        runs = sorted(re.findall(r"[\u4e00-\u9fff]{10,}", lead), key=len, reverse=True)
        if runs:  # 8 characters inside the lead's longest clause
            queries.append({"kind": "phrase", "query": f'"{runs[0][1:9]}"', "relevant": relevant})
        for name in names:
            if name in lead and sum(name in t for t in docs.values()) == 1:
                queries.append({"kind": "name", "query": name, "relevant": relevant})
    return articles, queries


def recall_at_10(rank, queries: list[dict]) -> dict:
    by_kind: dict[str, list[float]] = {}
    for q in queries:
        top = rank(q["query"])[:10]
        r = len(set(top) & q["relevant"]) / min(10, len(q["relevant"]))
        by_kind.setdefault(q["kind"], []).append(r)
    every = [r for rs in by_kind.values() for r in rs]
    return {"all": statistics.mean(every), **{k: statistics.mean(v) for k, v in by_kind.items()}}


def quality(home: Path, log) -> dict:
    from dataset.search import SearchIndex
    from text.dedupe import words

    articles, queries = labelled_queries()
    url = f"sqlite:///{home / 'quality.sqlite'}"
    with SearchIndex(url) as index:
        index.add(
            {
                "key": a.key,
                "paper": a.paper,
                "date": a.date,
                "text": a.text,
                "dedupe": {"cluster": a.key, "canonical": a.key, "similarity": 1.0},
            }
            for a in articles
        )
        ours = recall_at_10(
            lambda q: [h["key"] for h in index.search(q, limit=10)["hits"]], queries
        )
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE plain USING fts5(key UNINDEXED, body)")
    db.execute("CREATE VIRTUAL TABLE jieba USING fts5(key UNINDEXED, body)")
    for a in articles:
        db.execute("INSERT INTO plain VALUES (?, ?)", (a.key, a.text))
        db.execute("INSERT INTO jieba VALUES (?, ?)", (a.key, " ".join(words(a.text))))

    def fts(table: str, cut):
        def rank(q: str) -> list[str]:
            phrase = q.startswith('"')
            tokens = cut(q.strip('"'))
            expr = (
                '"' + " ".join(tokens) + '"' if phrase else " AND ".join(f'"{t}"' for t in tokens)
            )
            rows = db.execute(
                f"SELECT key FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT 10", (expr,)
            )
            return [r[0] for r in rows]

        return rank

    plain = recall_at_10(fts("plain", lambda q: q.split()), queries)
    jieba = recall_at_10(fts("jieba", words), queries)
    out = {
        "articles": len(articles),
        "queries": len(queries),
        "ours": ours,
        "plain_fts5": plain,
        "jieba_words_only": jieba,
    }
    log(f"quality: {json.dumps(out, ensure_ascii=False)}")
    return out


# --- the run ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k and 20k articles")
    parser.add_argument("--sizes", help="comma-separated index sizes (default 100000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workdir", help="keep the scratch EPAPER_HOME here")
    parser.add_argument(
        "--no-copy",
        action="store_true",
        help="index every article of the larger sizes (default: copy the first size's rows)",
    )
    args = parser.parse_args(argv)
    from dataset.search import SearchIndex

    sizes = [
        int(s)
        for s in (args.sizes or ("5000,20000" if args.quick else "100000,1000000")).split(",")
    ]
    log = lambda line: print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: E731
    print(f"# search bench: {harness.command_line()}\n# {harness.machine_line()}", flush=True)
    queries = query_set(20 if args.quick else QUERIES)
    report: dict = {}
    with harness.scratch(args.workdir) as home, harness.s3_server(home):
        report["quality"] = quality(home, log)
        report["publish_empty"] = publish_share(home, None, log)
        report["rebuild"] = rebuild_rate(500 if args.quick else 2000, log)
        report["latency"] = []
        with ExitStack() as stack:
            urls = {
                b: f"sqlite:///{home / 'scaling.sqlite'}"
                if b == "sqlite"
                else stack.enter_context(postgres_database())
                for b in args.backends.split(",")
            }
            indexes = {b: stack.enter_context(SearchIndex(url)) for b, url in urls.items()}
            done = 0
            for size in sizes:  # each size on every backend before the next: partial runs tell
                copy = done > 0 and not args.no_copy and size % done == 0
                report["latency"] += [
                    grow(ix, done, size, queries, log, copy) for ix in indexes.values()
                ]
                done = size
            if "sqlite" in urls:  # into the largest index (after the copies: ids stay theirs)
                report["publish_full"] = publish_share(home, urls["sqlite"], log)
                report["publish_full"]["size"] = done
    print(render(report))
    return 0


def render(r: dict) -> str:
    q = r["quality"]
    lines = [
        "",
        f"recall@10 on {q['queries']} labelled queries over {q['articles']} articles "
        "(by kind: " + ", ".join(f"{k}" for k in q["ours"] if k != "all") + ")",
    ]
    for name in ("ours", "plain_fts5", "jieba_words_only"):
        kinds = ", ".join(f"{k} {v:.3f}" for k, v in q[name].items() if k != "all")
        lines.append(f"  {name:17} {q[name]['all']:.3f}   ({kinds})")
    rb = r["rebuild"]
    lines.append(
        f"rebuild from the bucket: {rb['articles']} distinct articles in {rb['seconds']:.1f} s "
        f"= {rb['per_s']:.0f} articles/s"
    )
    for key in ("publish_empty", "publish_full"):
        if key in r:
            label = (
                f"the {r[key]['size']}-article SQLite index"
                if "size" in r[key]
                else "an empty index"
            )
            p = r[key]
            lines.append(
                f"index update at publish into {label}: {p['index_s'] * 1000:.0f} ms of "
                f"{p['publish_s'] * 1000:.0f} ms publish ({p['articles']} articles) = "
                f"{p['share']:.1%} of the step"
            )
    lines.append("latency of a two-word query with a 30-90 day filter (hits+facets+series):")
    lines.append(
        "  backend     articles   load/s   p50 ms   p95 ms  median hits  unfiltered (ms, hits)"
    )
    for row in r["latency"]:
        lines.append(
            f"  {row['backend']:10} {row['size']:>9}{'*' if row['copied'] else ' '}"
            f"{row['load_per_s']:>8.0f} {row['p50']:>8.1f} "
            f"{row['p95']:>8.1f} {row['hits_median']:>12.0f}  {row['unfiltered_ms']:.0f}, "
            f"{row['unfiltered_hits']}"
        )
    if any(row["copied"] for row in r["latency"]):
        lines.append(
            "  * the first size's rows copied onto other papers and dates (load/s: of the copy)"
        )
    by = {(row["backend"], row["size"]): row for row in r["latency"]}
    for backend in {row["backend"] for row in r["latency"]}:
        sizes = sorted(s for b, s in by if b == backend)
        if len(sizes) > 1:
            a, b = by[(backend, sizes[0])], by[(backend, sizes[-1])]
            lines.append(
                f"  {backend}: p95 x{b['p95'] / a['p95']:.2f} "
                f"for x{sizes[-1] / sizes[0]:.0f} articles"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
