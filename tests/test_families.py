"""The family registry (papers/family.py): a family of one's own, from a module named in
EPAPER_FAMILY_MODULES, is accepted in a papers file and crawls a replica site in full."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
import yaml

from papers import family as registry
from papers.catalogue import ConfigError, read_papers
from papers.family import Family, FamilyError, Walk
from replica import ReplicaServer, build_site
from replica.families import RENDERERS
from spiders.crawl import CrawlError, run_crawl
from text.clean import clean_article

DAY = date(2025, 4, 28)
EXAMPLE = "tests.family_example"


@pytest.fixture
def example_family(monkeypatch):
    """EPAPER_FAMILY_MODULES names the example module, in this process and in crawls; the
    registry is as before once the test ends."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_imported", set(registry._imported))
    monkeypatch.setenv("EPAPER_FAMILY_MODULES", f" {EXAMPLE} ,")
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    return "example-founder"


def papers_file(tmp_path, entries: list[dict]) -> str:
    path = tmp_path / "papers.yaml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return str(path)


def read_items(workdir) -> dict[str, list[dict]]:
    items: dict[str, list[dict]] = {"page": [], "article": [], "missing": [], "skipped": []}
    for line in (workdir / "items.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        items[item["type"]].append(item)
    return items


def test_a_family_of_ones_own_registers_and_archives_every_article(example_family, tmp_path):
    assert example_family in registry.names()
    assert registry.get(example_family).skins[0].name == "layoutlist"
    site = build_site("founder-new", "bcrb", [DAY], skin="layoutlist", node="1")
    with ReplicaServer([site]) as server:
        entry = {**site.paper_entry(server.base_url), "family": example_family}
        (paper,) = read_papers(papers_file(tmp_path, [entry])).values()
        era = paper.era(DAY)
        assert era.family == example_family
        workdir = tmp_path / "crawl"
        run_crawl(paper.id, DAY.isoformat(), era.family, paper.edition_url(DAY), str(workdir))
    items = read_items(workdir)
    truth = site.truth(DAY)
    paths = {a["url"].removeprefix(server.base_url): a for a in items["article"]}
    assert len(paths) == len(items["article"]), "an article was yielded twice"
    assert sorted(paths) == sorted(a["url"] for a in truth["articles"])
    assert sorted(p["url"].removeprefix(server.base_url) for p in items["page"]) == sorted(
        p["url"] for p in truth["pages"]
    )
    assert not items["missing"]
    for want in truth["articles"]:
        got = paths[want["url"]]
        assert got["family"] == example_family
        assert got["via"] == ("hotspot" if want["hidden"] else "list")
        # the clean step reads the family's own skin, not founder-new's as a fallback
        cleaned = clean_article(got)
        assert cleaned["title"] == want["title"]
        assert not [w for w in cleaned["warnings"] if "selectors of" in w or "trafilatura" in w]


def test_the_crawl_knows_a_family_only_through_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("EPAPER_FAMILY_MODULES", raising=False)
    with pytest.raises(CrawlError, match="^unknown family: example-founder$"):
        run_crawl("bcrb", DAY.isoformat(), "example-founder", "http://127.0.0.1:9/", str(tmp_path))


def test_a_module_that_does_not_import_is_named(example_family, tmp_path, monkeypatch):
    monkeypatch.setenv("EPAPER_FAMILY_MODULES", "tests.no_such_family")
    entry = {
        "id": "bcrb",
        "name": "x",
        "region": "x",
        "family": "founder-new",
        "edition_url": "http://127.0.0.1:9/{date:%Y%m%d}/node_01.html",
        "schedule": "30 6 * * *",
        "timezone": "Asia/Shanghai",
    }
    with pytest.raises(
        ConfigError,
        match=r"paper 'bcrb'.*EPAPER_FAMILY_MODULES: cannot import "
        r"'tests\.no_such_family'",
    ):
        read_papers(papers_file(tmp_path, [entry]))
    with pytest.raises(CrawlError, match=r"^EPAPER_FAMILY_MODULES: cannot import 'tests\.no_such"):
        run_crawl("bcrb", DAY.isoformat(), "founder-new", "http://127.0.0.1:9/", str(tmp_path))
    monkeypatch.setenv("EPAPER_FAMILY_MODULES", "papers.ids")  # a module, but of no family
    with pytest.raises(FamilyError, match="module 'papers.ids' defines no FAMILY"):
        registry.names()


def test_an_unknown_family_names_the_paper(example_family, tmp_path):
    entry = {
        "id": "bcrb",
        "name": "x",
        "region": "x",
        "family": "example-foundr",
        "edition_url": "http://127.0.0.1:9/{date:%Y%m%d}/node_01.html",
        "schedule": "30 6 * * *",
        "timezone": "Asia/Shanghai",
    }
    with pytest.raises(
        ConfigError,
        match=r"paper 'bcrb': key 'family': unknown family "
        r"'example-foundr' \(known: .*example-founder",
    ):
        read_papers(papers_file(tmp_path, [entry]))


def test_a_taken_name_cannot_be_registered_again_differently(example_family):
    taken = registry.get(example_family)
    assert registry.register(taken) is taken  # the same module imported twice
    other = replace(taken, walk=Walk(page_entries=("ul#other li",), article_links=("a",)))
    with pytest.raises(FamilyError, match="'example-founder' is registered twice"):
        registry.register(other)
    with pytest.raises(FamilyError, match="'xmwb' is registered twice"):
        registry.register(Family("xmwb", "another xmwb", walk=other.walk))
    assert registry.get(example_family) is taken and registry.get("xmwb").skins[0].name == "xmwb"


@pytest.mark.parametrize("name", ["Founder New", "", "founder_new"])
def test_a_family_name_is_checked(name):
    with pytest.raises(FamilyError, match="family name"):
        Family(name, "x", walk=Walk(page_entries=("li",), article_links=("a",)))


def test_every_builtin_family_has_a_replica_renderer():
    builtin = {f.name for f in registry.builtin()}
    assert builtin == {"founder-classic", "founder-new", "paperindex", "xmwb", "whb", "jfdaily"}
    assert builtin <= set(RENDERERS), f"no replica renderer: {sorted(builtin - set(RENDERERS))}"
