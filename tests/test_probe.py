"""`epaper probe`: which family fits a site, judged by real crawls of replica sites."""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import os
import subprocess
import sys
import threading

import pytest
import yaml

from flows.archive import archive_edition
from replica import FAMILIES, ReplicaServer, build_site
from spiders.probe import ProbeError, best, find_date, probe, suggest_id

DAY = dt.date(2025, 4, 28)
# Every family's replica, and the founder-new skins that differ most from the default one.
SITES = [(family, {}) for family in FAMILIES] + [
    ("founder-new", {"skin": "chunkicon", "node": "A01", "content_dir": "con"}),
    ("founder-new", {"skin": "layoutlist", "node": "1"}),
]


def probe_cli(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "EPAPER_HOME": str(home), "EPAPER_DOWNLOAD_DELAY": "0"}
    return subprocess.run(
        [sys.executable, "-m", "epaper.cli", "probe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def write_papers(path, entries: list[dict]) -> str:
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "url, day, template",
    [
        (
            "http://paper.people.com.cn/rmrb/html/2024-11/30/nbs.D110000renmrb_01.htm",
            dt.date(2024, 11, 30),
            "http://paper.people.com.cn/rmrb/html/{date:%Y-%m/%d}/nbs.D110000renmrb_01.htm",
        ),
        (
            "http://epaper.hljnews.cn/hljrb/pc/layout/202504/08/node_08.html",
            dt.date(2025, 4, 8),
            "http://epaper.hljnews.cn/hljrb/pc/layout/{date:%Y%m/%d}/node_08.html",
        ),
        (
            "http://x.cn/content/20250428/Page01HO.htm?d=20250428",
            DAY,
            "http://x.cn/content/{date:%Y%m%d}/Page01HO.htm?d={date:%Y%m%d}",
        ),
        (
            "https://dzb.whb.cn/2025-04-28/1/index.html",
            DAY,
            "https://dzb.whb.cn/{date:%Y-%m-%d}/1/index.html",
        ),
    ],
)
def test_the_date_of_an_edition_address_in_its_common_shapes(url, day, template):
    assert find_date(url) == (day, template)
    assert template.format(date=day) == url


def test_an_address_without_a_date_or_an_impossible_one_is_refused_naming_it():
    for url in ("http://x.cn/robots.txt", "http://x.cn/content/20251399/Page01.htm"):
        with pytest.raises(ProbeError, match=url.replace("?", r"\?")):
            find_date(url)
    with pytest.raises(ProbeError, match="ftp://x.cn/2025-04-28/"):
        find_date("ftp://x.cn/2025-04-28/")
    with pytest.raises(ProbeError, match="date 2025-04-29"):
        find_date("http://x.cn/2025-04-28/1.html", dt.date(2025, 4, 29))


def test_the_suggested_id_names_the_paper_not_the_service():
    assert suggest_id("http://epaper.hljnews.cn/hljrb/pc/layout/202504/08/node_08.html") == (
        "hljnews"
    )
    assert suggest_id("http://paper.people.com.cn/rmrb/html/2024-11/30/x.htm") == "people"
    assert suggest_id("http://bcrbszb.bcxww.com/html/2025-04/28/node_2.htm") == "bcrbszb"
    assert suggest_id("http://127.0.0.1:8765/BC_rb/html/2025-04/28/node_2.htm") == "bcrb"


@pytest.mark.parametrize(
    "family, options", SITES, ids=[f"{f}-{o.get('skin', 'default')}" for f, o in SITES]
)
def test_probe_names_the_family_and_its_entry_archives_the_edition(
    family, options, archive_env, prefect_api, tmp_path, monkeypatch
):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    site = build_site(family, "probed", [DAY], **options)
    with ReplicaServer([site]) as server:
        url = server.base_url + site.url_for(DAY)
        run = probe_cli(url, home=tmp_path / "home")
        assert run.returncode == 0, run.stderr
        table, _, entry_text = run.stdout.partition("\n\n")
        best = [line.split()[0] for line in table.splitlines() if line.endswith("best fit")]
        assert best == [family], run.stdout
        (entry,) = yaml.safe_load(entry_text)
        assert entry["family"] == family and entry["id"] == "probed"
        assert entry["timezone"] == "Asia/Shanghai" and DAY.isoformat() in entry["source"]
        assert entry["edition_url"].format(date=DAY) == url

        papers = write_papers(tmp_path / "probed.yaml", [entry])
        result = archive_edition(entry["id"], DAY.isoformat(), papers)
    assert result["status"] == "complete"
    news = {server.base_url + a["url"] for a in site.truth(DAY)["articles"] if a["kind"] == "news"}
    assert {a["url"] for a in result["articles"]} == news


def test_probe_of_a_paper_tells_whether_its_family_still_fits(tmp_path):
    site = build_site("founder-new", "bcrb", [DAY], skin="swiper")
    with ReplicaServer([site]) as server:
        right = site.paper_entry(server.base_url)
        wrong = {**right, "id": "bcrb-wrong", "family": "founder-classic"}
        unfit = {**right, "id": "bcrb-unfit", "family": "none"}
        papers = write_papers(tmp_path / "papers.yaml", [right, wrong, unfit])

        fits = probe_cli("bcrb", "--date", DAY.isoformat(), "--papers", papers, home=tmp_path)
        assert fits.returncode == 0, fits.stderr
        assert fits.stdout.splitlines()[-1].startswith("bcrb fits founder-new on 2025-04-28: ")

        run, moved = (
            probe_cli(paper, "--date", DAY.isoformat(), "--papers", papers, home=tmp_path)
            for paper in ("bcrb-wrong", "bcrb-unfit")
        )
    assert moved.returncode == 1
    assert moved.stderr.strip() == (
        "epaper: error: bcrb-unfit is catalogued family: none, yet founder-new fits: "
        + fits.stdout.splitlines()[-1].split(": ", 1)[1]
    )
    assert run.returncode == 1
    (line,) = run.stderr.splitlines()
    assert line.startswith("epaper: error: bcrb-wrong does not fit founder-classic on 2025-04-28:")
    assert "; founder-new fits better: 4 pages, " in line


class _PlainPage(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_an_address_that_is_no_edition_page_is_one_line_and_exit_1(tmp_path):
    (tmp_path / "2025-04-28").mkdir()
    (tmp_path / "2025-04-28" / "index.html").write_text(
        '<html><body><h1>新闻</h1><a href="about.html">关于我们</a></body></html>',
        encoding="utf-8",
    )
    handler = functools.partial(_PlainPage, directory=str(tmp_path))
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    site = build_site("founder-classic", "pdtimes", [DAY])
    try:
        with ReplicaServer([site]) as server:
            cases = {
                f"http://127.0.0.1:{plain.server_port}/2025-04-28/index.html": (
                    "no e-paper edition page: none of the"
                ),
                server.base_url + "/robots.txt": "no edition page address: its path holds no date",
                # the day after the replica's last edition answers 404
                server.base_url + site.url_for(DAY + dt.timedelta(days=1)): "no edition there",
            }
            for url, reason in cases.items():
                run = probe_cli(url, home=tmp_path / "home")
                assert run.returncode == 1, (url, run.stdout)
                assert run.stdout == ""
                assert len(run.stderr.splitlines()) == 1, run.stderr
                assert run.stderr.startswith(f"epaper: error: {url}: {reason}"), run.stderr
    finally:
        plain.shutdown()
        plain.server_close()


VARIANT_SEEDS = range(3)  # each probe is one crawl per family: a few seeds per family


@pytest.mark.parametrize("family", ["founder-classic", "founder-new", "paperindex"])
def test_probe_names_the_family_of_seeded_variants_of_real_shapes(family, monkeypatch):
    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    sites = [build_site(family, f"v{seed:02d}", [DAY], variant=seed) for seed in VARIANT_SEEDS]
    with ReplicaServer(sites) as server:
        named = {
            site.paper: getattr(
                best(probe(server.base_url + site.url_for(DAY), DAY, site.paper)), "family", None
            )
            for site in sites
        }
    right = [paper for paper, found in named.items() if found == family]
    print(f"\n{family}: probe named the family of {len(right)} / {len(sites)} variants")
    assert len(right) == len(sites), named
