"""Near-duplicate detection (text/dedupe.py) and its shared catalog (storage/catalog.py).

Real SQLite files and the real PostgreSQL server on 127.0.0.1:5432 (a scratch database
per test); the articles come from the seed pages (replica/labelled_dedupe.py).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import uuid

import jieba
import jieba.analyse
import numpy as np
import pytest
from datasketch import MinHash
from sqlalchemy import create_engine, func, select, text

from replica.labelled_dedupe import PAPERS, labelled_set, pair_metrics, seed_dir, stories
from storage.catalog import Catalog, CatalogError, articles, bands
from text import dedupe

jieba.setLogLevel(logging.WARNING)
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


@pytest.fixture
def new_pg_url():
    """Scratch databases on the local server, dropped afterwards."""
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def new() -> str:
        names.append(f"epaper_dedupe_test_{uuid.uuid4().hex[:12]}")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {names[-1]}"))
        return admin.url.set(database=names[-1]).render_as_string(hide_password=False)

    yield new
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("new_pg_url")()


def _text(name: str) -> str:
    return "\n".join(stories()[name])


def _seed_pages() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(seed_dir().glob("*.txt"))]


# --- tokens, hashes, signatures ------------------------------------------------------


def test_rjieba_cuts_the_seed_pages_exactly_as_jieba(capsys):
    compared = 0
    for page in _seed_pages():
        prepared = dedupe._PUNCT.sub(" ", dedupe.normalise(page))
        expected = [w for w in jieba.lcut(prepared) if not w.isspace()]
        assert dedupe.words(page) == expected
        compared += len(expected)
    with capsys.disabled():
        print(f"\nrjieba = jieba on all {compared} words of the seed pages")


def test_keywords_are_jiebas_tfidf_without_numbers():
    for name in ("xinhua-ai-shanghai", "xinhua-ai-study", "xinhua-baicheng-hydrogen"):
        text_ = _text(name)
        expected = [
            w
            for w in jieba.analyse.extract_tags(dedupe.normalise(text_), topK=None)
            if not w.isdigit()
        ]
        assert dedupe.keywords(text_) == expected[:8]
    assert "人工智能" in dedupe.keywords(_text("xinhua-ai-study"), k=3)


def test_exact_hash_ignores_layout_only():
    text_ = _text("xinhua-ai-study")
    reflowed = "\n".join(text_[i : i + 17] for i in range(0, len(text_), 17))  # PDF line breaks
    half_width = text_.replace("，", ",").replace("：", ":").replace("（", "(").replace("）", ")")
    assert (
        dedupe.text_sha256(reflowed) == dedupe.text_sha256(half_width) == dedupe.text_sha256(text_)
    )
    assert dedupe.text_sha256(text_.replace("习近平强调", "习近平指出", 1)) != dedupe.text_sha256(
        text_
    )


def test_signature_is_datasketchs_minhash():
    hashes = dedupe.shingles(_text("xinhua-zuofeng"))
    m = MinHash(num_perm=dedupe.NUM_PERM, seed=dedupe.SEED, hashfunc=int, scheme="affine32")
    m.update_batch(hashes)
    assert np.array_equal(dedupe._signature(hashes), m.hashvalues)


def test_band_keys_cover_the_text_and_its_lead():
    grams = dedupe._grams(dedupe.words(_text("xinhua-baicheng-hydrogen")))
    keys = dedupe.band_keys(grams)
    assert len(keys) == dedupe.BANDS + dedupe.LEAD_BANDS
    # a copy cut after its lead keeps every lead band
    assert keys[dedupe.BANDS :] == dedupe.band_keys(grams[: dedupe.LEAD_WORDS + 20])[dedupe.BANDS :]
    assert dedupe.band_keys(grams[: dedupe.MIN_SHINGLES - 1]) == []  # too short: exact matches only


# --- verification --------------------------------------------------------------------


def _check(a: str, b: str) -> bool:
    return dedupe.is_reprint(dedupe.overlap(dedupe.shingles(a), dedupe.shingles(b)))


def test_trimmed_and_edited_reprints_verify():
    paragraphs = stories()["xinhua-baicheng-hydrogen"]
    full = "\n".join(paragraphs)
    trimmed = "\n".join(paragraphs[:5])  # the first 40%: papers cut wire copy from the end
    assert len(trimmed) < 0.45 * len(full) and _check(trimmed, full)
    edited = (
        "吉林白城：“氢”装上阵\n据新华社电 "
        + full.replace("，", ",")
        + "\n图为项目建设现场。新华社发"
    )
    assert _check(edited, full)


def test_articles_sharing_a_quote_are_not_reprints():
    # real pages: a reaction piece quoting the wire story, a front-page quote box
    assert not _check(_text("wenhui-reaction"), _text("xinhua-ai-shanghai"))
    assert not _check(_text("putuo-quote-box"), _text("xinhua-ai-study"))
    quote = stories()["xinhua-ai-study"][2]  # its longest speech paragraph
    a = "\n".join([*stories()["suihua-zhengfu"][:2], "会议指出，" + quote])
    b = "\n".join(["会议强调，" + quote, *stories()["baicheng-dushuban"][1:3]])
    assert not _check(a, _text("xinhua-ai-study"))
    assert not _check(a, b)


# --- the catalog ---------------------------------------------------------------------


def _assign_all(url: str, items: list[tuple[str, str, str, str]]) -> dict[str, dict]:
    with Catalog(url) as catalog:
        return {key: catalog.assign(key, paper, date, text_) for key, paper, date, text_ in items}


def _partition(records: dict[str, dict]) -> set[frozenset[str]]:
    clusters: dict[str, set[str]] = {}
    for key, r in records.items():
        clusters.setdefault(r["cluster"], set()).add(key)
    return {frozenset(keys) for keys in clusters.values()}


def _items(arts) -> list[tuple[str, str, str, str]]:
    return [(a.key, a.paper, a.date, a.text) for a in arts]


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_labelled_reprint_set_precision_and_recall(sqlite_url, seed, capsys):
    arts = labelled_set(seed=seed)
    records = _assign_all(sqlite_url, _items(arts))
    m = pair_metrics({a.key: a.story for a in arts}, {k: r["cluster"] for k, r in records.items()})
    with capsys.disabled():
        print(
            f"\nlabelled set seed {seed}: {len(arts)} articles, {m['true_pairs']} reprint pairs: "
            f"pair precision {m['precision']:.4f}, recall {m['recall']:.4f}"
        )
    assert m["precision"] >= 0.99 and m["recall"] >= 0.95


def test_canonical_is_the_earliest_member_and_cluster_of_lists_the_story(sqlite_url):
    arts = labelled_set(seed=8)
    records = _assign_all(sqlite_url, _items(arts))
    order = {a.key: i for i, a in enumerate(arts)}
    for cluster in _partition(records):  # named after, and led by, its earliest member
        earliest = min(cluster, key=order.get)
        assert all(records[k]["cluster"] == records[k]["canonical"] == earliest for k in cluster)
    wire = [a for a in arts if a.story == "xinhua-ai-shanghai"]
    with Catalog(sqlite_url) as catalog:
        members = catalog.cluster_of(wire[-1].key)
        assert catalog.cluster_of("articles/none/2025-01-01/01/x.json") == []
    assert [m["key"] for m in members] == [a.key for a in wire]
    assert members[0]["similarity"] == 1.0 and {m["canonical"] for m in members} == {wire[0].key}
    assert {m["paper"] for m in members} == {a.paper for a in wire}
    first_copy: dict[str, str] = {}
    for a in wire:
        first_copy.setdefault(a.text, a.key)
    repeats = [a for a in wire if first_copy[a.text] != a.key]
    assert repeats and all(records[a.key]["exact"] for a in repeats)
    assert all(
        records[a.key]["similarity"] == records[first_copy[a.text]]["similarity"] for a in repeats
    )


def _rows(catalog: Catalog) -> tuple[int, int]:
    with catalog.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(articles)).scalar(),
            conn.execute(select(func.count()).select_from(bands)).scalar(),
        )


def _postings(catalog: Catalog, key: str) -> set[int]:
    with catalog.engine.connect() as conn:
        return set(
            conn.execute(
                select(bands.c.band)
                .join_from(bands, articles, bands.c.article == articles.c.seq)
                .where(articles.c.key == key)
            ).scalars()
        )


def test_assign_is_idempotent_and_re_evaluates_changed_text(catalog_url):
    wire, other = _text("xinhua-ai-study"), _text("shanghai-gongzheng")
    reprint = "新华社北京4月26日电\n" + wire.replace("，", ",")
    with Catalog(catalog_url) as catalog:
        first = catalog.assign("a/1", "bcrb", "2025-04-27", wire)
        record = catalog.assign("a/2", "jlrb", "2025-04-27", reprint)
        assert first == {"cluster": "a/1", "canonical": "a/1", "similarity": 1.0, "exact": False}
        assert (
            record["cluster"] == "a/1" and not record["exact"] and 0.5 < record["similarity"] < 1.0
        )
        # a member adds only the band keys its cluster lacks
        assert _postings(catalog, "a/1") == set(dedupe.fingerprint(wire).bands)
        assert _postings(catalog, "a/2") == set(dedupe.fingerprint(reprint).bands) - _postings(
            catalog, "a/1"
        )
        counts = _rows(catalog)
        assert catalog.assign("a/2", "jlrb", "2025-04-27", reprint) == record  # again: nothing new
        assert (
            catalog.assign("a/2", "jlrb", "2025-04-27", reprint.replace("\n", "")) == record
        )  # same sha256
        assert _rows(catalog) == counts
        # corrected to another story: out of the cluster, its old band keys replaced
        assert catalog.assign("a/2", "jlrb", "2025-04-27", other)["cluster"] == "a/2"
        assert _postings(catalog, "a/2") == set(dedupe.fingerprint(other).bands)
        assert catalog.assign("a/3", "whb", "2025-04-28", reprint)["cluster"] == "a/1"
        # back to the wire story: it keeps its place in archive order (after a/1)
        assert catalog.assign("a/2", "jlrb", "2025-04-27", reprint)["canonical"] == "a/1"
        assert [m["key"] for m in catalog.cluster_of("a/3")] == ["a/1", "a/2", "a/3"]
        assert catalog.assign("a/4", "nxrb", "2025-04-28", wire)["exact"] and not _postings(
            catalog, "a/4"
        )


def test_short_texts_match_only_exactly(sqlite_url):
    caption = "图为会议现场。本报记者 李晓明 摄"
    with Catalog(sqlite_url) as catalog:
        catalog.assign("c/1", "bcrb", "2025-04-27", caption)
        assert catalog.assign("c/2", "jlrb", "2025-04-27", caption)["cluster"] == "c/1"
        assert (
            catalog.assign("c/3", "whb", "2025-04-27", caption.replace("李晓明", "周敏"))["cluster"]
            == "c/3"
        )


def test_unreachable_catalog_names_the_url_without_password():
    with pytest.raises(CatalogError) as err:
        Catalog("postgresql://epaper:s3cret@127.0.0.1:1/catalog")
    assert "127.0.0.1:1/catalog" in str(err.value) and "s3cret" not in str(err.value)
    with pytest.raises(CatalogError, match="/no/such/dir/catalog.sqlite"):
        Catalog("sqlite:////no/such/dir/catalog.sqlite")


def test_catalog_location_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EPAPER_CATALOG_URL", raising=False)
    monkeypatch.setenv("EPAPER_HOME", str(tmp_path / "home"))
    Catalog().close()
    assert (tmp_path / "home" / "catalog.sqlite").exists()
    monkeypatch.setenv("EPAPER_CATALOG_URL", f"sqlite:///{tmp_path / 'shared.sqlite'}")
    with Catalog() as catalog:
        catalog.assign("k", "p", "2025-04-27", _text("xinhua-zuofeng"))
    assert (tmp_path / "shared.sqlite").exists()


# --- two workers at once -------------------------------------------------------------


def _worker(url: str, items: list, start: mp.Barrier, results: mp.Queue) -> None:
    with Catalog(url) as catalog:
        start.wait()
        results.put(
            {key: catalog.assign(key, paper, date, text_) for key, paper, date, text_ in items}
        )


def _story_by_story(arts):
    """One article of every story, then a second of every story, and so on: run by two
    workers at once, both found each story at the same moment (the race to guard)."""
    by_story: dict[str, list] = {}
    for a in arts:
        by_story.setdefault(a.story, []).append(a)
    return [a for turn in itertools.zip_longest(*by_story.values()) for a in turn if a is not None]


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
def test_two_workers_at_once_cluster_as_one_worker_in_turn(backend, request, tmp_path, capsys):
    """Two processes archive different papers at the same time; the clusters must be those
    of one worker doing the two papers' articles one after the other."""
    arts = labelled_set(seed=9)
    half = set(PAPERS[: len(PAPERS) // 2])
    first = _items(_story_by_story([a for a in arts if a.paper in half]))
    second = _items(_story_by_story([a for a in arts if a.paper not in half]))
    if backend == "postgres":
        serial_url, concurrent_url = (request.getfixturevalue("new_pg_url")() for _ in range(2))
    else:
        serial_url, concurrent_url = (
            f"sqlite:///{tmp_path / name}" for name in ("serial.sqlite", "concurrent.sqlite")
        )
    serial = _assign_all(serial_url, first + second)

    ctx = mp.get_context("spawn")
    start, results = ctx.Barrier(2), ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(concurrent_url, items, start, results))
        for items in (first, second)
    ]
    for w in workers:
        w.start()
    concurrent = {**results.get(timeout=600), **results.get(timeout=600)}
    for w in workers:
        w.join()
    assert _partition(concurrent) == _partition(serial)
    with Catalog(concurrent_url) as catalog, catalog.engine.connect() as conn:
        order = dict(conn.execute(select(articles.c.key, articles.c.seq)).all())
    for cluster in _partition(concurrent):  # named after, and led by, its earliest member
        earliest = min(cluster, key=order.get)
        assert all(
            concurrent[k]["cluster"] == concurrent[k]["canonical"] == earliest for k in cluster
        )
    m = pair_metrics(
        {a.key: a.story for a in arts}, {k: r["cluster"] for k, r in concurrent.items()}
    )
    with capsys.disabled():
        print(
            f"\n{backend}, two workers at once: {len(_partition(concurrent))} clusters "
            "as in the serial run; "
            f"pair precision {m['precision']:.4f}, recall {m['recall']:.4f}"
        )
    assert m["precision"] >= 0.99 and m["recall"] >= 0.95
