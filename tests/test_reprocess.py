"""Reprocessing archived editions from their WARCs: real Prefect runs on real SeaweedFS,
and not one request to the site."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml

import text.clean
from flows.archive import archive_edition
from flows.reprocess import reprocess_edition
from replica import ReplicaServer, build_site
from storage.archive import ArchiveError, open_archive
from tests.fixtures.edition import all_versions, epaper, error_line
from text.clean import clean_article

DAY = date(2025, 4, 28)


@pytest.fixture
def edition(archive_env, prefect_api, tmp_path, monkeypatch):
    """(site, server, papers file): a founder-new replica on 127.0.0.1."""
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site("founder-new", "bcrb", [DAY], skin="swiper")
    with ReplicaServer([site]) as server:
        papers = tmp_path / "papers.yaml"
        papers.write_text(
            yaml.safe_dump([site.paper_entry(server.base_url)], allow_unicode=True),
            encoding="utf-8",
        )
        yield site, server, str(papers)


def test_reprocess_is_offline_and_writes_only_what_changed(edition, monkeypatch):
    site, server, papers = edition
    archive_edition(site.paper, DAY.isoformat(), papers)
    news = [a for a in site.truth(DAY)["articles"] if a["kind"] == "news" and not a["hidden"]]
    edited, improved = news[0], news[-1]
    site.edit_article(DAY, edited["url"], edited["paragraphs"] + ["本报将继续关注此事进展。"])
    # The second crawl's WARC holds the edited article and revisits of the first crawl's records.
    archived = archive_edition(site.paper, DAY.isoformat(), papers)
    before, requests = all_versions(), server.requests

    same = reprocess_edition(site.paper, DAY.isoformat(), papers)
    assert same["changed"] is False and all_versions() == before
    assert server.requests == requests, "a reprocess asks the site nothing"

    # An improved extractor changes the output for one article.
    improved_url = server.base_url + improved["url"]

    def improved_clean(item: dict) -> dict:
        fields = clean_article(item)
        return (
            {**fields, "title": fields["title"] + "（修订）"}
            if item["url"] == improved_url
            else fields
        )

    # the clean step imports clean_article when it runs (flows/steps.py: a lighter flow run)
    monkeypatch.setattr(text.clean, "clean_article", improved_clean)
    result = reprocess_edition(site.paper, DAY.isoformat(), papers)
    assert result["changed"] and server.requests == requests
    key = next(a["key"] for a in archived["articles"] if a["url"] == improved_url)
    manifest_key = f"editions/{site.paper}/{DAY}/manifest.json"
    after = all_versions()
    assert {k for k in after if after[k] != before.get(k)} == {key, manifest_key}
    assert after[key] == 2
    with open_archive() as archive:
        assert json.loads(archive.get(key))["title"] == improved["title"] + "（修订）"
        manifest = json.loads(archive.get(manifest_key))
    assert manifest["crawl"] == archived["crawl"], "still the archived crawl and its WARC"


def test_cli_reprocess_names_a_damaged_warc_and_changes_nothing(edition):
    site, _, papers = edition
    archived = archive_edition(site.paper, DAY.isoformat(), papers)
    key = archived["crawl"]["warc_key"]
    with open_archive() as archive:
        data = archive.get(key)
        archive.put(key, data[: len(data) // 2], "application/warc")
    before = all_versions()
    run = epaper("reprocess", site.paper, "--date", DAY.isoformat(), "--papers", papers)
    assert run.returncode != 0
    line = error_line(run)
    assert key in line and "truncated" in line, line
    assert all_versions() == before

    with pytest.raises(ArchiveError, match="no archived edition bcrb 2025-04-27"):
        reprocess_edition(site.paper, "2025-04-27", papers)
