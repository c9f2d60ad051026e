"""One edition end to end: replica site over HTTP → Prefect flow → SeaweedFS, and the CLI."""

from __future__ import annotations

import json
import os

import yaml

from flows.archive import archive_edition
from storage.archive import open_archive
from tests.fixtures.edition import DAYS, all_versions, epaper, error_line


def test_edition_is_archived_with_every_article_of_the_replica(sites, papers):
    server, papers_file = papers
    site, day = sites[0], DAYS[0]
    result = archive_edition(site.paper, day.isoformat(), papers_file)
    assert result["status"] == "complete"

    truth = site.truth(day)
    news = {server.base_url + a["url"]: a for a in truth["articles"] if a["kind"] == "news"}
    with open_archive() as archive:
        manifest = json.loads(archive.get(f"editions/{site.paper}/{day}/manifest.json"))
        assert {a["url"] for a in manifest["articles"]} == set(news), (
            "every news article, hotspot-only too"
        )
        assert any(a["hidden"] for a in news.values()), (
            "the replica hides some articles behind hotspots"
        )
        for listed in manifest["articles"]:
            article = json.loads(archive.get(listed["key"], version_id=listed["version_id"]))
            expected = news[article["url"]]
            for field in ("title", "kicker", "subtitle", "page_no", "page_name"):
                assert article[field] == expected[field], field
            # The replica prints the source line (本报讯…, 新华社…电) at the head of the body;
            # we keep it apart.
            body = [
                expected["paragraphs"][0].removeprefix(expected["source"]).lstrip(),
                *expected["paragraphs"][1:],
            ]
            assert article["source"].startswith(expected["source"])
            assert article["paragraphs"] == [p for p in body if p]
            assert article["text"] == "\n".join(article["paragraphs"])
            assert article["dedupe"]["cluster"] and article["sha256"] == listed["sha256"]
        assert [p["page_no"] for p in manifest["pages"]] == [p["page_no"] for p in truth["pages"]]
        for page in manifest["pages"]:
            assert archive.get(page["pdf_key"]).startswith(b"%PDF")
        assert archive.exists(manifest["crawl"]["warc_key"])
        assert manifest["crawl"]["requests"] > len(news)


def test_rearchive_writes_nothing_and_a_changed_article_gets_one_new_version(sites, papers):
    _, papers_file = papers
    site, day = sites[0], DAYS[0]
    first = archive_edition(site.paper, day.isoformat(), papers_file)
    before = all_versions()

    again = archive_edition(site.paper, day.isoformat(), papers_file)
    assert again["changed"] is False
    assert all_versions() == before, "an unchanged edition writes no object version"

    target = next(a for a in site.truth(day)["articles"] if a["kind"] == "news" and not a["hidden"])
    site.edit_article(day, target["url"], target["paragraphs"] + ["本报将继续关注此事进展。"])
    archive_edition(site.paper, day.isoformat(), papers_file)
    after = all_versions()
    grown = {key for key in after if after[key] != before.get(key)}
    key = next(a["key"] for a in first["articles"] if a["url"].endswith(target["url"]))
    manifest_key = f"editions/{site.paper}/{day}/manifest.json"
    assert after[key] == 2
    assert grown - {key, manifest_key} == {k for k in grown if k.startswith("raw/")}, grown

    old_version = next(a["version_id"] for a in first["articles"] if a["key"] == key)
    shown = epaper("show", key, "--version", old_version)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["paragraphs"] == target["paragraphs"]
    history = epaper("versions", key)
    assert history.returncode == 0 and len(history.stdout.strip().splitlines()) == 2


def test_two_editions_in_a_row_in_one_process_share_stories_across_papers(sites, papers):
    _, papers_file = papers
    results = [archive_edition(site.paper, DAYS[1].isoformat(), papers_file) for site in sites]
    assert [r["status"] for r in results] == ["complete", "complete"]
    first_keys = {a["key"] for a in results[0]["articles"]}
    reprints = [a for a in results[1]["articles"] if a["cluster"] in first_keys]
    assert reprints, "the second paper reprints wire stories the first archived"


def test_missing_edition_is_not_an_error(sites, papers):
    _, papers_file = papers
    for day in sorted(sites[0].missing):
        run = epaper("archive", sites[0].paper, "--date", day.isoformat(), "--papers", papers_file)
        assert run.returncode == 0, run.stderr
        assert "no edition" in run.stdout
    assert all_versions() == {}


def test_bad_input_fails_in_one_line_and_changes_nothing(sites, papers, tmp_path):
    server, papers_file = papers
    assert archive_edition(sites[0].paper, DAYS[0].isoformat(), papers_file)["status"] == "complete"
    before = all_versions()

    no_template = tmp_path / "no-template.yaml"
    no_template.write_text(
        yaml.safe_dump(
            [
                {
                    **sites[0].paper_entry(server.base_url),
                    "edition_url": server.base_url + "/bcrb/index.html",
                }
            ]
        )
    )
    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(
        yaml.safe_dump([{**sites[0].paper_entry("http://127.0.0.1:9"), "id": "gone"}])
    )
    cases = {
        ("archive", "no-such-paper", "--date", "2025-04-28"): "no-such-paper",
        ("archive", "bcrb", "--date", "2025-02-30", "--papers", papers_file): "2025-02-30",
        ("archive", "bcrb", "--date", "2025-04-28", "--papers", str(no_template)): "edition_url",
        ("archive", "gone", "--date", "2025-04-28", "--papers", str(unreachable)): "127.0.0.1:9",
    }
    for args, named in cases.items():
        run = epaper(*args)
        assert run.returncode != 0, args
        assert named in error_line(run), run.stderr

    secret = os.environ["EPAPER_S3_SECRET_KEY"]
    for variable, value in (
        ("EPAPER_S3_ENDPOINT", "127.0.0.1:9"),
        ("EPAPER_S3_SECRET_KEY", "wrong-secret"),
    ):
        run = epaper(
            "archive", "bcrb", "--date", "2025-04-28", "--papers", papers_file, **{variable: value}
        )
        assert run.returncode != 0, variable
        assert "S3" in error_line(run), run.stderr
        assert secret not in run.stderr and "wrong-secret" not in run.stderr
    assert all_versions() == before
