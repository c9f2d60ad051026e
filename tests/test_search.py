"""The search index (dataset/search.py, text/segment.py) on real archives: the demo's (read
only: its own index, made at publish, and ours rebuilt from its bucket into files and
databases of our own) and replica editions archived here. Expected hits are computed from
the archived article JSON itself, by plain substring search over each field.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import uuid
from collections import Counter
from contextlib import contextmanager, nullcontext

import pytest
from sqlalchemy import create_engine, text

from dataset.search import SearchError, SearchIndex, plain_snippet
from storage.archive import open_archive
from tests.fixtures.edition import DAYS, epaper, error_line
from text.dedupe import normalise, words
from text.segment import parse_query

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORD = "信访"  # two characters, a jieba word, in one local story of the seeds
NAME = "李仰哲"  # a name jieba cuts 李仰/哲
PHRASE = "科技创新高地"
COMMON = "人工智能"


@contextmanager
def environment(env: dict[str, str]):
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def demo_docs(demo_archive) -> dict[str, dict]:
    """Every article of the demo archive, as archived (latest versions), by key."""
    with environment(demo_archive), open_archive() as archive:
        return {
            key: json.loads(archive.get(key))
            for key in archive.list("articles/")
            if key.endswith(".json")
        }


@pytest.fixture(scope="module")
def regions(demo_archive) -> dict[str, str]:
    from papers.catalogue import load_papers

    papers = load_papers(os.path.join(demo_archive["EPAPER_HOME"], "demo-papers.yaml"))
    return {p.id: p.region for p in papers.values()}


@contextmanager
def postgres_database():
    """A database of our own on the test server, dropped after."""
    name = f"search_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def index(request, demo_archive, regions, tmp_path_factory):
    """An index rebuilt from the demo bucket alone, on each backend."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('index') / 'search.sqlite'}"
    database = postgres_database() if request.param == "postgresql" else nullcontext(sqlite_url)
    with database as url, environment(demo_archive), open_archive() as archive:
        with SearchIndex(url) as index:
            index.rebuilt = index.rebuild(archive, regions)
            yield index


def fields(article: dict) -> list[str]:
    return [
        article.get("kicker") or "",
        article.get("title") or "",
        article.get("subtitle") or "",
        *(article.get("paragraphs") or article["text"].split("\n")),
    ]


def containing(docs: dict[str, dict], s: str) -> set[str]:
    """Keys of the articles one of whose fields (a paragraph, the title) holds `s`."""
    s = normalise(s)
    return {k for k, a in docs.items() if any(s in normalise(f) for f in fields(a))}


def found(index: SearchIndex, query: str, **filters) -> set[str]:
    keys = set(index.keys(query, **filters))
    assert index.search(query, **filters, limit=0)["total"] == len(keys)
    return keys


def test_the_rebuild_holds_every_archived_article(index, demo_docs):
    assert index.rebuilt == len(demo_docs) == index.count()


def test_a_two_character_word_finds_every_article_holding_it_words_first(index, demo_docs):
    expected = containing(demo_docs, WORD)
    assert expected and found(index, WORD) == expected
    # A word jieba also cut as a word ranks above a mere run of its two characters.
    hits = index.search(WORD, limit=len(expected))["hits"]
    as_word = [WORD in words("\n".join(fields(demo_docs[h["key"]]))) for h in hits]
    assert as_word == sorted(as_word, reverse=True)
    assert all(t.lower() == WORD for h in hits for t, matched in h["snippet"] if matched) and all(
        any(matched for _, matched in h["snippet"]) for h in hits
    )


def test_a_name_jieba_does_not_know_is_found_through_bigrams(index, demo_docs):
    expected = containing(demo_docs, NAME)
    assert expected, f"{NAME} is in no demo article"
    assert all(NAME not in words("\n".join(fields(demo_docs[k]))) for k in expected)
    assert found(index, NAME) == expected


def test_a_quoted_phrase_must_occur_as_written(index, demo_docs):
    expected = containing(demo_docs, PHRASE)
    assert expected and found(index, f'"{PHRASE}"') == expected
    # Unquoted, its words may stand anywhere: at least the same articles.
    assert found(index, PHRASE) >= expected
    # Two words that occur apart but never side by side: only unquoted finds them.
    apart = found(index, f"{WORD} {COMMON}")
    assert found(index, f'"{WORD}{COMMON}"') == containing(demo_docs, WORD + COMMON)
    assert apart >= containing(demo_docs, WORD + COMMON)


def test_every_term_must_occur(index, demo_docs):
    both = found(index, f"{COMMON} {WORD}")
    assert both == containing(demo_docs, COMMON) & containing(demo_docs, WORD)


def test_each_filter_keeps_what_it_names(index, demo_docs, regions):
    everything = containing(demo_docs, COMMON)
    assert found(index, COMMON) == everything
    by_paper = Counter(demo_docs[k]["paper"] for k in everything)
    assert len(by_paper) > 1
    paper = by_paper.most_common()[-1][0]
    assert found(index, COMMON, paper=paper) == {
        k for k in everything if demo_docs[k]["paper"] == paper
    }
    dates = sorted({demo_docs[k]["date"] for k in everything})
    assert len(dates) > 1
    assert found(index, COMMON, date_from=dates[1]) == {
        k for k in everything if demo_docs[k]["date"] >= dates[1]
    }
    assert found(index, COMMON, date_from=dates[0], date_to=dates[0]) == {
        k for k in everything if demo_docs[k]["date"] == dates[0]
    }
    page = Counter(demo_docs[k]["page_name"] for k in everything).most_common()[-1][0]
    assert page
    assert found(index, COMMON, page=page) == {
        k for k in everything if page in demo_docs[k]["page_name"]
    }
    region = regions[paper][:2]  # a province: its papers
    assert found(index, COMMON, region=region) == {
        k for k in everything if region in regions.get(demo_docs[k]["paper"], "")
    }
    assert found(index, COMMON, region="no such region") == set()


def test_wire_is_a_story_of_more_than_one_paper_local_the_rest(index, demo_docs):
    papers_of = {}
    for a in demo_docs.values():
        papers_of.setdefault(a["dedupe"]["cluster"], set()).add(a["paper"])
    wire = {k for k, a in demo_docs.items() if len(papers_of[a["dedupe"]["cluster"]]) > 1}
    everything = containing(demo_docs, COMMON)
    assert everything & wire and everything - wire
    assert found(index, COMMON, wire=True) == everything & wire
    assert found(index, COMMON, wire=False) == everything - wire


def test_facets_and_series_count_every_match(index, demo_docs):
    everything = containing(demo_docs, COMMON)
    result = index.search(COMMON, limit=3)
    assert result["total"] == len(everything) and len(result["hits"]) == 3
    assert result["facets"]["paper"] == dict(Counter(demo_docs[k]["paper"] for k in everything))
    months = Counter(demo_docs[k]["date"][:7] for k in everything)
    assert result["facets"]["month"] == dict(months)
    assert {s["month"]: s["hits"] for s in result["series"] if s["hits"]} == dict(months)
    hit = result["hits"][0]
    article = demo_docs[hit["key"]]
    assert (hit["paper"], hit["date"], hit["title"], hit["cluster"]) == (
        article["paper"],
        article["date"],
        article["title"],
        article["dedupe"]["cluster"],
    )
    shown = plain_snippet(hit["snippet"]).strip("…")
    assert any(shown in f.replace("\n", " ") for f in [article["text"], *fields(article)[:3]])
    # pages of hits: no overlap, in rank order
    second = index.search(COMMON, limit=3, offset=3)["hits"]
    assert not {h["key"] for h in second} & {h["key"] for h in result["hits"]}


@pytest.mark.parametrize(
    "query", ['"unbalanced 信访', "NEAR(信访", "信访 *", "信访 OR", 'a" AND "b', "{grams}:信"]
)
def test_fts_syntax_is_text(index, query):
    terms = parse_query(query)
    result = index.search(query)  # no error: at worst no hits
    assert result["total"] >= 0 and terms


@pytest.mark.parametrize(
    "query, filters, message",
    [
        ("", {}, "no words"),
        ("，。！？…", {}, "no words"),
        ("信访", {"date_from": "2025-04-30", "date_to": "2025-04-01"}, "runs backwards"),
        ("信访", {"date_from": "2025-02-30"}, "2025-02-30"),
        ("信访", {"limit": -1}, "limit"),
    ],
)
def test_bad_input_is_a_clear_error(index, query, filters, message):
    with pytest.raises(SearchError, match=message):
        index.search(query, **filters)


def test_an_unknown_paper_is_an_empty_result(index):
    assert index.search(WORD, paper="no-such-paper")["total"] == 0


def test_the_index_made_at_publish_equals_the_rebuild(index, demo_archive):
    """The demo's own index (written by publish_edition) gives what the rebuild gives."""
    with environment(demo_archive), SearchIndex() as published:
        assert published.count() == index.count()
        for query in (WORD, NAME, f'"{PHRASE}"', COMMON, f"{COMMON} {WORD}"):
            assert list(published.keys(query)) == list(index.keys(query))
            for wire in (True, False):
                assert set(published.keys(query, wire=wire)) == set(index.keys(query, wire=wire))


def test_cli_formats_parse_back(demo_archive, demo_docs):
    expected = containing(demo_docs, COMMON)
    run = epaper("search", COMMON, "--format", "csv", "--limit", "500", **demo_archive)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert {r["key"] for r in rows} == expected
    assert all(COMMON in r["snippet"] and r["paper"] == demo_docs[r["key"]]["paper"] for r in rows)
    run = epaper("search", COMMON, "--format", "jsonl", "--limit", "2", "--local", **demo_archive)
    assert run.returncode == 0, run.stderr
    hits = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(hits) == 2 and all(any(m for _, m in h["snippet"]) for h in hits)
    run = epaper("search", f'"{PHRASE}"', **demo_archive)
    assert run.returncode == 0 and f"【{PHRASE}】" in run.stdout
    assert f"{len(containing(demo_docs, PHRASE))} hits" in run.stdout


@pytest.mark.parametrize(
    "args, names",
    [
        (["search", "   "], "'   '"),
        (["search", "信访", "--from", "2025-05-01", "--to", "2025-04-01"], "2025-05-01"),
        (["search", "信访", "--from", "yesterday"], "yesterday"),
        (["search", "信访", "--limit", "0"], "--limit 0"),
    ],
)
def test_cli_bad_input_is_one_line(demo_archive, args, names):
    run = epaper(*args, **demo_archive)
    assert run.returncode == 1 and names in error_line(run), run.stderr


def test_cli_rebuild_reads_the_bucket_alone(demo_archive, demo_docs, tmp_path):
    env = {**demo_archive, "EPAPER_CATALOG_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}"}
    run = epaper("index", **env)
    assert run.returncode == 0 and run.stdout.startswith("0 articles"), run.stderr
    run = epaper("index", "--rebuild", **env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"indexed {len(demo_docs)} articles")
    run = epaper("search", WORD, "--format", "jsonl", "--limit", "100", **env)
    assert {json.loads(line)["key"] for line in run.stdout.splitlines()} == containing(
        demo_docs, WORD
    )


def test_a_changed_article_replaces_its_row(tmp_path):
    article = {
        "key": "articles/x/2025-04-28/01/a.json",
        "paper": "x",
        "date": "2025-04-28",
        "page_no": 1,
        "page_name": "要闻",
        "title": "扩大内需",
        "text": "坚持扩大内需战略。",
        "dedupe": {"cluster": "c", "canonical": "articles/x/2025-04-28/01/a.json"},
    }
    reprint = {**article, "key": "articles/y/2025-04-29/02/b.json", "paper": "y"}
    with SearchIndex(f"sqlite:///{tmp_path / 's.sqlite'}") as index:
        assert index.add([article]) == 1 and index.add([article]) == 0
        assert set(index.keys("内需", wire=False)) == {article["key"]}
        index.add([reprint])  # a second paper prints the story: both are wire now
        assert set(index.keys("内需", wire=True)) == {article["key"], reprint["key"]}
        assert index.add([{**article, "text": "国内需求旺盛。", "title": "需求"}]) == 1
        assert set(index.keys('"扩大内需"')) == {reprint["key"]}
        assert set(index.keys("旺盛")) == {article["key"]} and index.count() == 2


def test_the_index_is_current_after_every_publish(sites, papers):
    from papers.catalogue import read_papers

    server, papers_file = papers
    site, day = sites[0], DAYS[0]
    region = read_papers(papers_file)[site.paper].region
    run = epaper("archive", site.paper, "--date", day.isoformat(), "--papers", papers_file)
    assert run.returncode == 0, run.stderr
    with open_archive() as archive:
        manifest = json.loads(archive.get(f"editions/{site.paper}/{day}/manifest.json"))
        docs = {a["key"]: json.loads(archive.get(a["key"])) for a in manifest["articles"]}
    # a word of one article only: the jieba word of its title most specific to it
    key, article = next(iter(docs.items()))
    term = max(
        (w for w in words(article["title"]) if len(w) > 1),
        key=lambda w: -len(containing(docs, w)),
    )
    with SearchIndex() as index:
        assert set(index.keys(term)) == containing(docs, term) and key in containing(docs, term)
        assert set(index.keys(term, region=region[:2])) == containing(docs, term)
        count = index.count()
    assert count == len(docs)
    again = epaper("archive", site.paper, "--date", day.isoformat(), "--papers", papers_file)
    assert again.returncode == 0, again.stderr
    with SearchIndex() as index:
        assert index.count() == count and set(index.keys(term)) == containing(docs, term)


# -- why segmentation: what the index would find without it ---------------------------


def raw_texts(docs: dict[str, dict]) -> list[str]:
    return ["\n".join(fields(a)) for a in docs.values()]


def test_plain_fts5_and_trigrams_miss_a_two_character_word(demo_docs):
    texts = raw_texts(demo_docs)
    holding = sum(WORD in t for t in texts)
    assert holding
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE plain USING fts5(body)")  # unicode61: no segmentation
    db.execute("CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram')")
    for t in texts:
        db.execute("INSERT INTO plain VALUES (?)", (t,))
        db.execute("INSERT INTO tri VALUES (?)", (t,))
    count = "SELECT count(*) FROM {} WHERE {} MATCH ?"
    assert db.execute(count.format("plain", "plain"), (f'"{WORD}"',)).fetchone()[0] == 0
    assert db.execute(count.format("tri", "tri"), (f'"{WORD}"',)).fetchone()[0] == 0
    # the trigram index does find a three-character name: it is the length that fails
    assert db.execute(count.format("tri", "tri"), (f'"{NAME}"',)).fetchone()[0] == len(
        containing(demo_docs, NAME)
    )


def test_postgres_simple_parser_and_pg_trgm_miss_a_two_character_word(demo_docs):
    texts = [t for t in raw_texts(demo_docs) if WORD in t]
    assert texts
    with postgres_database() as url:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION pg_trgm"))
                conn.execute(text("CREATE TABLE raw (body text)"))
                conn.execute(text("INSERT INTO raw VALUES (:b)"), [{"b": t} for t in texts])
                simple = conn.execute(
                    text(
                        "SELECT count(*) FROM raw WHERE "
                        "to_tsvector('simple', body) @@ plainto_tsquery('simple', :w)"
                    ),
                    {"w": WORD},
                ).scalar()
                trigram = conn.execute(
                    text("SELECT count(*) FROM raw WHERE :w <% body"), {"w": WORD}
                ).scalar()
                holding = conn.execute(
                    text("SELECT count(*) FROM raw WHERE strpos(body, :w) > 0"), {"w": WORD}
                ).scalar()
        finally:
            engine.dispose()
    # pg_trgm finds it only in the few texts where it stands as a word of its own
    assert holding == len(texts) and simple == 0 and trigram < holding / 2
