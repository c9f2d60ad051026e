"""Each catalogue entry's family against its own evidence (issue 15, docs/fit.md): editions
rebuilt from the selectors of the paper's public crawler code, crawled by the family
spider over real HTTP; the table in docs/ is what the command makes today."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench.fit_table import era_keys, rows
from replica.evidence import RebuiltEdition, Unrebuildable, load, realise_checked, selected

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2025, 4, 28)
# one of each kind of evidence: bs4 calls translated, an image map's areas, list items
# whose links sit below them, td[2] cells, a region with a URL rule, link text in `alt`
# nowhere, URL rules alone (founder-classic, founder-new's c123.html, paperindex), whb
SAMPLE = (
    "rmrb@0",
    "henanrb@1",
    "gsrb@0",
    "czdaily",
    "whb",
    "bcrb",
    "ahsb",
    "hezrb",
    "ccwb",
    "gmrb",
)


def doc_rows() -> dict[str, str]:
    text = (ROOT / "docs" / "fit.md").read_text(encoding="utf-8")
    return {
        line.split(" | ", 1)[0].removeprefix("| "): line
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| entry")
    }


@pytest.mark.parametrize(
    "spec",
    [
        {"sel": "//div[@class='swiper-slide']/a/@href", "kind": "xpath"},
        {"sel": "div#titleList ul li a::attr(href)", "kind": "css"},
        {"sel": "//table[@id='x']/tbody/tr/td[2]/a", "kind": "xpath"},
        {"sel": "//div[@id='mylink']/a/@alt", "kind": "xpath"},
        {"sel": "//ul[@id='layoutlist']/li[@class='posRelative']", "kind": "xpath"},
        {"sel": "//div[@class='nav-list']/ul/li > ./a[@class='btn']/@href", "kind": "xpath"},
        {"sel": "//div[@class='list']", "kind": "xpath", "allow": r"node_\d+\.htm"},
        {"sel": r"html/\d+-\d+/\d+/node_\d+\.htm", "kind": "regex"},
    ],
)
def test_realised_markup_gives_back_its_links_through_the_evidence_selector(spec):
    links = [("node_2.htm", "第02版：要闻"), ("node_3.htm", "第03版：综合")]

    def absolute(href):
        return "http://epaper.example.cn/html/2025-04/28/" + href

    html = realise_checked(spec, links, absolute)
    assert selected(html, spec, absolute) == ["node_2.htm", "node_3.htm"]


def test_what_cannot_be_rebuilt_says_so():
    raw_html_regex = {"sel": r'<a[^>]+id="pageLink"[^>]+href="(node_\d+\.htm)"', "kind": "regex"}
    with pytest.raises(Unrebuildable, match="does not give back its links"):
        realise_checked(raw_html_regex, [("node_2.htm", "2")], lambda h: h)
    with pytest.raises(Unrebuildable, match="bs4 selector"):
        realise_checked({"sel": "find_all('a')", "kind": "bs4"}, [("a.htm", "a")], str)


def test_every_era_with_selectors_is_rebuilt_and_the_table_lists_every_era():
    specs, table = load(), doc_rows()
    assert [key for key, _, _ in era_keys()] == list(table)
    for key, _, era in era_keys():
        spec = specs.get(key)
        if era.fits and spec and spec.get("pages") and spec.get("articles"):
            edition = RebuiltEdition(key, era.family, era.edition_url, spec, DAY)
            assert len(edition.truth["articles"]) == 12 and "not rebuilt" not in table[key]


def test_the_families_fit_the_sampled_evidence_and_docs_fit_is_current():
    found = {r["key"]: r for r in rows(set(SAMPLE))}
    assert set(found) == set(SAMPLE)
    table = doc_rows()
    for key in SAMPLE:
        row = found[key]
        assert row["verdict"] == "fits", row
        assert (row["pages"], row["articles"]) == ("4/4", "12/12"), row
        assert f"| {row['pages']} | {row['articles']} | {row['titles']} | fits |" in table[key]
