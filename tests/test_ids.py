"""One definition each of article id, page label, paper id and reprint (papers.ids), and the
article's sha256 is the contract's: of the normalised text, the value the catalog holds."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sqlalchemy import select

from epaper.report import summary
from flows.archive import archive_edition
from papers import catalogue, ids
from papers.catalogue import ConfigError, parse_paper
from spiders.families import base
from storage import keys
from storage.archive import open_archive
from storage.catalog import Catalog, articles
from tests.fixtures.edition import DAYS
from text.clean import _page
from text.dedupe import normalise


def test_every_user_has_the_one_definition():
    assert keys.article_id is ids.article_id
    assert keys.PAPER_ID is ids.PAPER_ID is catalogue.PAPER_ID
    assert base.PAGE_LABEL is ids.PAGE_LABEL


@pytest.mark.parametrize("safe", ["content_123", "a", "node_2-1", "x" * 100])
def test_a_safe_article_id_is_its_own_key(safe):
    assert ids.article_id(safe) == safe
    assert keys.article("bcrb", "2025-04-28", 1, safe) == f"articles/bcrb/2025-04-28/01/{safe}.json"


def test_a_long_ascii_id_keeps_the_key_archives_made_before_hold():
    # What storage/keys.py made of the spider's 400-character id before the one definition.
    assert ids.article_id("A" * 400) == "A" * 89 + "-87bc156385"


@pytest.mark.parametrize(
    "raw", ["新闻", "内容", "内容\u202e\u0007", "%0d%0aX-Evil:%201", "../x", "A" * 101]
)
def test_an_unsafe_article_id_becomes_a_safe_one_that_stays_put(raw):
    safe = ids.article_id(raw)
    assert ids.ARTICLE_ID.match(safe) and len(safe) <= ids.MAX_ARTICLE_ID
    assert ids.article_id(safe) == safe, "the key function takes the spider's id as it is"
    assert safe != ids.article_id(raw + "x")


def test_names_that_differ_only_in_dropped_characters_keep_distinct_ids():
    names = ("新闻", "内容", "内容\u202e")
    made = {ids.article_id_of_url(f"http://h/pc/{name}.html") for name in names}
    assert len(made) == 3


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/pc/content/202504/28/content_1.htm", "content_1"),
        ("http://h/pc/content/202504/28/content_1.html?id=../../x", "content_1"),
        ("http://h/pc/content/202504/28/.html", "index"),
        ("http://h/", "index"),
        ("http://h/layout/c_7/", "c_7"),
    ],
)
def test_the_article_id_of_a_url_is_its_file_name(url, expected):
    assert ids.article_id_of_url(url) == expected


@pytest.mark.parametrize("bad", ["", None, 7])
def test_a_bad_article_id_is_named(bad):
    with pytest.raises(ValueError, match=f"bad article id {bad!r}"):
        ids.article_id(bad)


@pytest.mark.parametrize(
    ("label", "parts"),
    [
        ("第01版：要闻", ("", "01", "", "要闻")),
        ("A01版：要闻", ("A", "01", "", "要闻")),
        ("第B02版:广告", ("B", "02", "", "广告")),
        ("01版 要闻", ("", "01", "", "要闻")),
        ("第 3 版", ("", "3", "", "")),
    ],
)
def test_page_labels(label, parts):
    m = ids.PAGE_LABEL.search(label)
    assert (m["prefix"], m["number"], m["suffix"], m["name"]) == parts


@pytest.mark.parametrize(
    ("label", "page"),
    [
        ("第03版：要闻", (3, "要闻")),
        ("第A03版：要闻", (None, "要闻")),  # numbered within section A, not in the edition
        ("要闻", (None, "")),
    ],
)
def test_clean_reads_a_page_number_only_from_an_unlettered_label(label, page):
    assert _page({}, label) == page


@pytest.mark.parametrize("bad", ["bcrb\n", "BCRB", "a/b", "", "a_b", "../x"])
def test_a_bad_paper_id_is_refused_by_the_catalogue_and_the_keys(bad):
    assert not ids.PAPER_ID.match(bad) and not ids.PAPER_ID.fullmatch(bad)
    with pytest.raises(ConfigError, match="key 'id': must match"):
        parse_paper({"id": bad, "name": "x"}, "papers.yaml")
    with pytest.raises(ValueError, match="bad paper id"):
        keys.edition_manifest(bad, "2025-04-28")


def test_a_reprint_is_an_article_whose_story_another_started():
    first = {"key": "a/1", "dedupe": {"cluster": "a/1", "canonical": "a/1"}}
    later = {"key": "b/1", "dedupe": {"cluster": "a/1", "canonical": "a/1"}}
    assert not ids.is_reprint(first) and ids.is_reprint(later)
    # as listed in a manifest
    assert not ids.is_reprint({"key": "a/1", "cluster": "a/1"})
    assert ids.is_reprint({"key": "b/1", "cluster": "a/1"})


def test_the_article_sha256_is_of_the_normalised_text_as_in_the_catalog(sites, papers):
    """Two papers sharing wire stories through the real flow: each article JSON's sha256, its
    manifest entry's and its catalog row's are one value, sha256 of the normalised text; and
    the reprints the terminal counts are the ones whose canonical is another article."""
    _, papers_file = papers
    results = [archive_edition(site.paper, DAYS[1].isoformat(), papers_file) for site in sites]
    with Catalog() as catalog, catalog.engine.connect() as conn:
        held = dict(conn.execute(select(articles.c.key, articles.c.sha256)).all())
    later_copies = 0
    with open_archive() as archive:
        for result in results:
            reprints = 0
            for listed in result["articles"]:
                article = json.loads(archive.get(listed["key"], version_id=listed["version_id"]))
                normalised = hashlib.sha256(normalise(article["text"]).encode("utf-8")).hexdigest()
                assert article["sha256"] == listed["sha256"] == held[listed["key"]] == normalised
                assert ids.is_reprint(listed) == (article["dedupe"]["canonical"] != listed["key"])
                reprints += ids.is_reprint(listed)
            assert f" {reprints} reprint" in summary(result)
            later_copies += reprints
    assert later_copies, "the second paper reprints wire stories the first archived"


@pytest.mark.parametrize("name", ["内容", "a内容b", "%0d%0a", "x y.z"])
def test_an_unsafe_file_name_keeps_the_key_archives_already_hold(name):
    # the spider's form since the first archive: each unsafe character "_", a sha1 of the name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name).strip("_")
    expected = f"{safe[:80]}-{digest}" if safe else digest
    assert ids.article_id_of_url(f"http://paper.example/html/{name}.htm") == expected
