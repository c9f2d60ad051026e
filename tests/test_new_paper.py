"""A new paper on a supported family needs only a --papers entry: no code change."""

from __future__ import annotations

import json

import yaml

from replica import ReplicaServer, build_site
from storage.archive import open_archive
from tests.fixtures.edition import DAYS, epaper


def test_a_paper_added_by_papers_file_only_is_archived(
    archive_env, prefect_api, tmp_path, monkeypatch
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    # Unknown to the built-in catalogue, another skin, `pc/con/` articles, `node_1` pages.
    site = build_site(
        "founder-new", "lsrb", DAYS[:1], skin="layoutlist", node="1", content_dir="con"
    )
    day = DAYS[0]
    with ReplicaServer([site]) as server:
        # Another host name for the same loopback server.
        entry = site.paper_entry(server.base_url.replace("127.0.0.1", "localhost"))
        assert entry["edition_url"].endswith("/lsrb/pc/layout/{date:%Y%m/%d}/node_1.html")
        papers_file = tmp_path / "mine.yaml"
        papers_file.write_text(yaml.safe_dump([entry], allow_unicode=True), encoding="utf-8")

        assert epaper("archive", "lsrb", "--date", day.isoformat()).returncode != 0, "not built in"
        run = epaper("archive", "lsrb", "--date", day.isoformat(), "--papers", str(papers_file))
        assert run.returncode == 0, run.stderr

    news = {a["url"] for a in site.truth(day)["articles"] if a["kind"] == "news"}
    with open_archive() as archive:
        manifest = json.loads(archive.get(f"editions/lsrb/{day}/manifest.json"))
    assert {a["url"].split(":", 2)[2].partition("/")[2] for a in manifest["articles"]} == {
        u.lstrip("/") for u in news
    }
    assert all(a["url"].startswith("http://localhost:") for a in manifest["articles"])
