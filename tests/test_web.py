"""The reading room (web/) in a real headless Chromium, served by `epaper serve` over a real
archive: the demo's (read-only, shared) and editions of our own with a hostile article."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from flows.archive import archive_edition
from storage.archive import Archive, open_archive
from storage.catalog import Catalog
from tests.fixtures.edition import DAYS

# The first test to use demo_archive waits for `epaper demo` to write it (minutes on a
# loaded machine); pytest-timeout counts a test's fixtures too.
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "img"
HOSTILE = [
    "<script>window.__pwned = 1; document.title = 'pwned'</script>本报讯 市民反映问题。",
    '<img src="x" onerror="window.__pwned = 2; alert(1)">图片说明。',
    '<a href="javascript:window.__pwned = 3">点此查看详情</a>更多内容。',
    '<svg onload="window.__pwned = 4"></svg>相关部门已经介入调查。',
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(env: dict[str, str], *args: str):
    """`epaper serve` on 127.0.0.1 and a free port; its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epaper.cli", "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"epaper serve exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
            try:
                httpx.get(base + "/static/style.css", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("epaper serve did not answer within 240 s")
                time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def watched_page(chromium, **options):
    """A page whose console errors, dialogs and page errors are recorded."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, **options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.events = []
    page.on("console", lambda msg: page.events.append(("console", msg.type, msg.text)))

    def dialog(box):
        page.events.append(("dialog", box.message))
        box.dismiss()

    page.on("dialog", dialog)
    page.on("pageerror", lambda exc: page.events.append(("pageerror", str(exc))))
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def bucket_versions() -> dict[str, list[str]]:
    with open_archive() as archive:
        return {key: [v["version_id"] for v in archive.versions(key)] for key in archive.list("")}


def test_every_route_is_a_read():
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    from web.app import create_app

    app = create_app()  # the archive opens when it starts serving, not here
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    for route in routes:
        assert route.methods <= {"GET", "HEAD"}, (route.path, route.methods)
    assert [r.path for r in app.routes if isinstance(r, Mount)] == ["/static"]
    api = {r.path for r in routes if r.path.startswith("/api/") and r.include_in_schema}
    for name in ("papers", "calendar", "editions", "articles", "versions", "diff", "cluster"):
        assert any(name in path for path in api), name
    assert {"/api/search", "/api/export", "/api/reprints"} <= api


def test_reading_room_in_a_browser(demo_archive, monkeypatch, chromium, tmp_path):
    for name, value in demo_archive.items():
        monkeypatch.setenv(name, value)
    before = bucket_versions()
    with open_archive() as archive:
        manifest = json.loads(archive.get("editions/demo-bcrb/2025-04-27/manifest.json"))
        articles = {a["key"]: json.loads(archive.get(a["key"])) for a in manifest["articles"]}
    with Catalog() as catalog:
        clusters = {key: catalog.cluster_of(key) for key in articles}
    # a story of this edition reprinted by other papers
    reprinted = max(clusters, key=lambda k: len({m["paper"] for m in clusters[k]}))
    assert len({m["paper"] for m in clusters[reprinted]}) > 1
    first_page = manifest["pages"][0]
    on_first = [a for a in manifest["articles"] if a["page_no"] == first_page["page_no"]]

    with serve({}) as base, watched_page(chromium, accept_downloads=True) as page:
        response = page.goto(base + "/")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        # Papers: every demo paper, with its region, family and a calendar of its coverage.
        paper = page.locator("#paper-demo-bcrb")
        expect(paper.locator("h2")).to_contain_text("白城日报")
        expect(paper).to_contain_text("founder-new")
        expect(paper).to_contain_text("吉林省白城市")
        expect(paper.locator("td.day.complete")).to_have_count(3)
        expect(page.locator("section.paper")).to_have_count(7)
        shot(page, "papers")

        # Calendar → edition: the pages in order, the first page's articles beside it.
        paper.get_by_role("link", name="白城日报").click()
        expect(page.locator("h1")).to_contain_text("demo-bcrb")
        shot(page, "calendar")
        page.locator('td.day.complete a[href$="2025-04-27"]').click()
        expect(page.locator("h1")).to_contain_text("2025-04-27")
        tabs = page.locator("nav.pages a")
        expect(tabs).to_have_count(len(manifest["pages"]))
        for tab, listed in zip(tabs.all(), manifest["pages"]):
            expect(tab).to_contain_text(f"第{listed['page_no']}版 {listed['page_name']}")
        listed = page.locator("aside.articles li a")
        expect(listed).to_have_text([a["title"] for a in on_first])
        # a page with no archived article (the ad page) says so
        empty = next(p for p in manifest["pages"] if not any(
            a["page_no"] == p["page_no"] for a in manifest["articles"]))  # fmt: skip
        expect(tabs.nth(manifest["pages"].index(empty))).to_contain_text("no articles")
        # the page image, each article's hotspot zone drawn over it as a link
        sheet = page.locator("section.sheet")
        assert first_page["image_key"] and all(a["zone"] for a in on_first)
        expect(sheet.locator("svg.zones image")).to_have_attribute(
            "href", f"/file/{first_page['image_key']}"
        )
        zones = sheet.locator("svg.zones a.zone")
        expect(zones).to_have_count(len(on_first))
        shot(page, "edition")
        target = on_first[-1]
        sheet.locator(f'a.zone[href="/article/{target["key"]}"]').click()
        image = httpx.get(f"{base}/file/{first_page['image_key']}")
        assert image.headers["content-type"].startswith("image/") and image.content
        pdf = httpx.get(f"{base}/file/{first_page['pdf_key']}")
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        warc = httpx.get(f"{base}/file/{manifest['crawl']['warc_key']}")
        assert warc.headers["content-disposition"].startswith("attachment")
        assert warc.content[:2] == b"\x1f\x8b"  # the WARC as archived, gzip
        # only page files and WARCs are served, never other objects (JSON, manifests)
        manifest_file = f"{base}/file/editions/demo-bcrb/2025-04-27/manifest.json"
        assert httpx.get(manifest_file).status_code == 404

        # Article: 引题/标题/副题, source, text, provenance, versions.
        story = articles[target["key"]]
        expect(page.locator("h1.headline")).to_have_text(story["title"])
        if story["kicker"]:
            expect(page.locator(".kicker")).to_have_text(story["kicker"])
        if story["subtitle"]:
            expect(page.locator(".subtitle")).to_have_text(story["subtitle"])
        expect(page.locator(".body p")).to_have_text(story["paragraphs"])
        provenance = page.locator("section.provenance")
        expect(provenance).to_contain_text(manifest["crawl"]["warc_key"])
        expect(provenance).to_contain_text(manifest["crawl"]["started"])
        expect(page.locator("section.versions tbody tr")).to_have_count(1)
        shot(page, "article")

        # Reprints: the story's timeline across papers, then its aligned differences.
        page.goto(f"{base}/article/{reprinted}")
        timeline = page.locator("section.reprints ol.timeline li")
        expect(timeline).to_have_count(len(clusters[reprinted]))
        for member in clusters[reprinted]:
            expect(page.locator("section.reprints")).to_contain_text(member["paper"])
        page.locator("section.reprints").get_by_role("link", name="Aligned differences").click()
        expect(page.locator("h1")).to_contain_text("Reprint timeline")
        # each later copy against the earliest: headline, dateline, aligned paragraphs
        copies = page.locator("section.copy")
        expect(copies).to_have_count(len(clusters[reprinted]) - 1)
        expect(copies.first.locator("ul.changes li").first).to_contain_text("Headline")
        ops = page.locator("table.aligned tbody tr .op").all_inner_texts()
        assert ops and {op.split()[-1] for op in ops} <= {"same", "edited", "cut", "added"}
        shot(page, "cluster")
        # a cluster a page at a time (wire stories run to hundreds of copies): one per page here
        ordered = sorted(
            clusters[reprinted], key=lambda m: (m["date"], m is not clusters[reprinted][0])
        )
        page.goto(f"{base}/cluster/{reprinted}?limit=1")
        expect(page.locator("nav.pager").first).to_contain_text(f"of {len(ordered)}")
        expect(page.locator("ol.timeline li")).to_have_count(1)
        expect(page.locator("ol.timeline li")).to_contain_text(ordered[0]["paper"])
        expect(page.locator("section.copy")).to_have_count(1)
        page.locator("nav.pager").first.get_by_role("link", name="Next").click()
        expect(page.locator("ol.timeline li")).to_contain_text(ordered[1]["paper"])
        expect(page.locator("nav.pager").first).to_contain_text(f"Copies 2–2 of {len(ordered)}")

        # The widest clusters, each opening to its timeline.
        page.goto(base + "/reprints")
        expect(page.locator("h1")).to_contain_text("widest reprints")
        widest = page.locator("table.clusters tbody tr")
        expect(widest.first.locator("td").nth(1)).to_have_text(
            str(len({m["paper"] for m in clusters[reprinted]}))
        )
        shot(page, "reprints")
        widest.first.locator("a").click()
        expect(page.locator("ol.timeline li").first).to_contain_text("earliest")

        # Search: a word of the article, highlighted; facets; the chart; export of the result.
        page.goto(base + "/")
        page.locator("header input[name=q]").fill("人工智能")
        page.locator("header input[name=q]").press("Enter")
        expect(page.locator("h1")).to_contain_text("Search")
        total = int(page.locator("p.total").inner_text().split()[1])
        assert total > 0
        expect(page.locator(".snippet mark").first).to_have_text("人工智能")
        # per paper and per month, each adds up to the total
        facets = page.locator(".facets li .count").all_inner_texts()
        assert sum(int(n) for n in facets) == 2 * total
        expect(page.locator(".chart svg rect").first).to_be_visible()
        shot(page, "search")
        with page.expect_download() as download:
            page.locator(".export a", has_text="csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == total and all("人工智能" in r["title"] + r["text"] for r in rows)
        # a filter narrows the result to one paper
        page.locator(".facets a", has_text="demo-bcrb").click()
        expect(page.locator(".hitlist .where code").first).to_have_text("demo-bcrb")
        assert set(page.locator(".hitlist .where code").all_inner_texts()) == {"demo-bcrb"}

        # The API serves the same data.
        api = httpx.get(f"{base}/api/editions/demo-bcrb/2025-04-27").json()
        assert [p["page_no"] for p in api["pages"]] == [p["page_no"] for p in manifest["pages"]]
        assert httpx.get(f"{base}/api/openapi.json").json()["paths"]
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            assert httpx.request(method, f"{base}/api/papers").status_code == 405, method
        # bucket credentials never reach the browser
        html = page.content() + json.dumps(api)
        assert demo_archive["EPAPER_S3_SECRET_KEY"] not in html
        assert not [e for e in page.events if e[0] != "console" or e[1] == "error"], page.events
    assert bucket_versions() == before, "the reading room wrote to the bucket"


def test_a_hostile_article_runs_no_script(sites, papers, chromium):
    """Markup in archived text is shown as text: no script, handler or javascript: link of
    the archived page runs, in the article, its diff between versions, or a search."""
    server, papers_file = papers
    site, day = sites[0], DAYS[0]
    first = archive_edition(site.paper, day.isoformat(), papers_file)
    target = next(a for a in site.truth(day)["articles"] if a["kind"] == "news" and not a["hidden"])
    site.edit_article(day, target["url"], target["paragraphs"] + HOSTILE)
    archive_edition(site.paper, day.isoformat(), papers_file)
    key = next(a["key"] for a in first["articles"] if a["url"].endswith(target["url"]))
    with open_archive() as archive:
        history = archive.versions(key)
        assert len(history) == 2
        assert "<script>" in json.loads(archive.get(key))["text"]
    before = bucket_versions()
    with serve({}, "--papers", papers_file) as base, watched_page(chromium) as page:
        page.goto(f"{base}/article/{key}")
        expect(page.locator(".body")).to_contain_text("<script>window.__pwned = 1")
        expect(page.locator(".body")).to_contain_text('onerror="window.__pwned = 2')
        page.locator(".body p").nth(-len(HOSTILE)).scroll_into_view_if_needed()
        shot(page, "hostile-article")
        # the versions' diff: the hostile paragraphs are the added ones
        page.locator("section.versions button[type=submit]").click()
        added = page.locator(".diff p.para.added")
        expect(added).to_have_count(len(HOSTILE))
        expect(added.first).to_contain_text("<script>")
        expect(page.locator(".diff ins").first).to_be_visible()
        # only the hostile paragraphs say "pwned": its snippet shows the markup as text
        page.goto(f"{base}/search?q=pwned")
        expect(page.locator(".hitlist > li")).to_have_count(1)
        expect(page.locator(".snippet mark").first).to_have_text("pwned")
        expect(page.locator(".snippet")).to_contain_text("window.__")
        for url in (f"{base}/article/{key}", f"{base}/api/articles/{key}"):
            page.goto(url)
            assert page.evaluate("window.__pwned") is None, url
            assert page.title() != "pwned", url
            planted = 'script:not([src]), [onerror], [onload], a[href^="javascript:"]'
            assert page.locator(planted).count() == 0, url
        assert not [e for e in page.events if e[0] in ("dialog", "pageerror")], page.events
    assert bucket_versions() == before


def test_an_article_links_to_its_replay(sites, papers, chromium, monkeypatch):
    """With `epaper replay` running, an article's provenance opens its capture in pywb."""
    from dataset import replay

    if not os.environ.get("EPAPER_PYWB"):
        monkeypatch.setenv("EPAPER_PYWB", str(ROOT / ".venv-pywb" / "bin" / "wayback"))
    _, papers_file = papers
    result = archive_edition(sites[0].paper, DAYS[0].isoformat(), papers_file)
    key = result["articles"][0]["key"]
    with open_archive() as archive, replay.serve(archive) as running:
        article = json.loads(archive.get(key))
        wanted = replay.replay_url(running.base, article["url"], result["crawl"]["started"])
        with (
            serve({}, "--papers", papers_file, "--replay", running.base) as base,
            watched_page(chromium) as page,
        ):
            page.goto(f"{base}/article/{key}")
            link = page.locator("section.provenance a", has_text="Replay the capture")
            expect(link).to_have_attribute("href", wanted)
            link.click()
            frame = page.frame_locator("#replay_iframe")
            expect(frame.locator("body")).to_contain_text(article["title"], timeout=120_000)


def test_an_access_token_keeps_others_out(demo_archive, chromium):
    with serve(demo_archive, "--token", "s3cret-token") as base:
        assert httpx.get(base + "/").status_code == 401
        assert httpx.get(base + "/api/papers").status_code == 401
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert httpx.get(base + "/api/papers", headers=bearer).status_code == 200
        with watched_page(chromium) as page:
            page.goto(base + "/?token=s3cret-token")
            assert "token" not in page.url  # moved to a cookie, out of the history
            expect(page.locator("h1")).to_contain_text("Papers")
            page.get_by_role("link", name="检索 Search").first.click()
            expect(page.locator("h1")).to_contain_text("Search")


def test_serve_starts_the_embedded_archive(tmp_path):
    """Without EPAPER_S3_ENDPOINT, `epaper serve` starts the embedded S3 server (as every
    command does) and stops it when it stops."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("EPAPER_S3_")}
    env["EPAPER_HOME"] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "epaper.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "no answer within 240 s"
                time.sleep(0.5)
        assert answer.status_code == 200 and "No editions archived yet" in answer.text
        assert (tmp_path / "s3").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert proc.returncode in (0, -15), proc.stderr.read()


def test_archived_links_and_zones_never_become_markup(archive_env):
    """An article JSON whose fields carry markup, javascript: links and a zone that is not
    numbers (what a hostile site could make the crawl store) renders inert."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    key = "articles/hostile/2025-04-28/01/a1.json"
    article = {
        "paper": "hostile",
        "date": "2025-04-28",
        "page_no": 1,
        "page_name": '<b onmouseover="x()">要闻</b>',
        "url": "javascript:window.__pwned=5",
        "kicker": "<style>body{display:none}</style>",
        "title": "<script>window.__pwned=6</script>标题",
        "subtitle": "",
        "author": '"><img src=x onerror=alert(1)>',
        "source": "",
        "paragraphs": ["正文。"],
        "text": "正文。",
        "images": [
            {"url": "javascript:alert(1)", "caption": "<script>alert(2)</script>图片"},
            {"url": "data:text/html,<script>alert(3)</script>", "caption": ""},
            {"url": "https://example.org/a.jpg", "caption": "说明"},
        ],
        "zone": {"shape": "poly", "coords": ['1" onload="alert(4)', 2, 3, 4, 5, 6]},
        "dedupe": {"cluster": key, "canonical": key, "similarity": 1.0},
    }
    with open_archive() as archive:
        archive.put(key, json.dumps(article).encode(), "application/json")
    with TestClient(create_app()) as client:
        page = client.get(f"/article/{key}")
        assert page.status_code == 200
        html = page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for planted in (
            "<script>window",
            "<img src=x",
            "<style>",
            "<b onmouseover",
            "<script>alert",
        ):
            assert planted not in html, planted
        assert "&lt;script&gt;window.__pwned=6&lt;/script&gt;标题" in html
        assert 'href="javascript:' not in html and 'href="data:text' not in html
        assert 'href="https://example.org/a.jpg"' in html
        assert client.get(f"/api/articles/{key}").json()["zone"] is None
        assert client.post(f"/api/articles/{key}").status_code == 405


def test_a_cluster_page_reads_each_copy_once(demo_archive, monkeypatch):
    """The timeline and the aligned evidence of a cluster page show the same copies: each is
    fetched from the bucket once, and the cluster's rows from the catalog once."""
    from collections import Counter

    from fastapi.testclient import TestClient

    from web.app import create_app

    for name, value in demo_archive.items():
        monkeypatch.setenv(name, value)
    with Catalog() as catalog:
        widest = catalog.widest_clusters(limit=1)[0]
        members = catalog.cluster_of(widest["canonical"])
    assert len(members) > 2
    reads, queries = Counter(), Counter()
    real_get, real_cluster_of = Archive.get, Catalog.cluster_of

    def counted_get(self, key, version_id=None):
        reads[key] += 1
        return real_get(self, key, version_id)

    def counted_cluster_of(self, key):
        queries[key] += 1
        return real_cluster_of(self, key)

    monkeypatch.setattr(Archive, "get", counted_get)
    monkeypatch.setattr(Catalog, "cluster_of", counted_cluster_of)
    with TestClient(create_app()) as client:
        page = client.get(f"/cluster/{widest['canonical']}")
    assert page.status_code == 200
    assert page.text.count('class="copy') == len(members) - 1
    assert {m["key"] for m in members} <= set(reads)
    assert max(reads.values()) == 1, reads.most_common(3)
    assert sum(queries.values()) == 1, queries
