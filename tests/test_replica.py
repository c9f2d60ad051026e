"""The replica sites answer as the real ones do, traps included."""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from datetime import date

import pdfplumber
import pytest

from replica import FAMILIES, ReplicaServer, build_site, demo_sites
from replica.corpus import seed_articles

DAY = date(2025, 4, 28)


def fetch(url: str, **headers) -> tuple[int, dict, bytes]:
    """GET without following redirects: (status, headers, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(req) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# --- the articles the sites are made of --------------------------------------------


def test_seeds_split_into_articles_with_their_own_text():
    arts = seed_articles()
    assert len(arts) >= 20
    for a in arts:
        assert a.title and a.paragraphs
        assert all("\n" not in p for p in a.paragraphs)  # lines broken mid-sentence are joined
    sources = {a.source for a in arts}
    assert "新华社上海4月29日电" in sources and "新华社北京4月26日电" in sources
    assert any(s.startswith("本报讯（全媒体记者") for s in sources)
    wire = next(a for a in arts if a.source == "新华社上海4月29日电")
    assert (
        wire.kicker == "习近平在上海考察时强调"
        and wire.title == "加快建成具有全球影响力的科技创新高地"
    )
    assert any(
        "“模速空间”是上海市打造的人工智能大模型专业孵化和加速平台" in p for p in wire.paragraphs
    )


def test_sites_are_deterministic_and_papers_reprint_the_same_wire_stories():
    one, again = build_site("founder-new", "bcrb", [DAY]), build_site("founder-new", "bcrb", [DAY])
    assert one.truth(DAY) == again.truth(DAY)
    other = build_site("founder-new", "shrb", [DAY]).truth(DAY)["articles"]
    mine = one.truth(DAY)["articles"]
    wire = [a for a in mine if "新华社" in a["source"]]
    assert wire, "every edition carries wire copy"
    for a in wire:  # the other paper runs the same story, its own way
        twin = [b for b in other if b["paragraphs"][1:2] == a["paragraphs"][1:2]]
        assert twin
    local = {a["paragraphs"][0] for a in mine if a["source"].startswith("本报讯")}
    assert local and not local & {b["paragraphs"][0] for b in other}
    kinds = {(a["kind"], a["hidden"]) for a in mine}
    assert {("news", True), ("news", False), ("ad", False), ("pseudo", False)} <= kinds


# --- HTTP behaviour ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    site = build_site("founder-new", "bcrb", [date(2025, 4, 27), DAY])
    with ReplicaServer([site]) as server:
        yield site, server


def test_pages_carry_hotspot_only_articles_and_relative_links(served):
    site, server = served
    truth = site.truth(DAY)
    front = next(p for p in truth["pages"] if p["page_no"] == 1)
    status, _, body = fetch(server.base_url + front["url"])
    page = body.decode("utf-8")
    assert status == 200
    hidden = [a for a in truth["articles"] if a["hidden"] and a["page_no"] == 1]
    assert hidden
    for a in hidden:
        name = a["url"].rsplit("/", 1)[1]
        assert re.search(rf'<Area [^>]*href="\.\./\.\./\.\./content/\d+/\d+/{name}"', page)
        assert a["title"] not in page  # not in the article list
    assert (
        'href="../../../../private/' in page
    )  # a hotspot into /bcrb/private/, which robots.txt forbids


def test_conditional_requests_answer_304(served):
    site, server = served
    url = server.base_url + site.truth(DAY)["articles"][1]["url"]
    status, headers, body = fetch(url)
    assert status == 200 and body
    assert fetch(url, **{"If-None-Match": headers["ETag"]})[0] == 304
    assert fetch(url, **{"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    assert fetch(url, **{"If-None-Match": '"other"'})[0] == 200


def test_edited_article_is_served_changed(served):
    site, server = served
    art = site.truth(DAY)["articles"][2]
    url = server.base_url + art["url"]
    _, before, _ = fetch(url)
    site.edit_article(DAY, art["url"], [*art["paragraphs"], "（本报更正）"])
    status, after, body = fetch(url, **{"If-None-Match": before["ETag"]})
    assert status == 200 and "（本报更正）" in body.decode("utf-8")
    assert after["ETag"] != before["ETag"]
    assert site.truth(DAY)["articles"][2]["paragraphs"][-1] == "（本报更正）"


def test_missing_dates_answer_404_and_301_to_root(served):
    site, server = served
    got = {
        status: fetch(server.base_url + site.url_for(day)) for day, status in site.missing.items()
    }
    assert got[404][0] == 404
    status, headers, _ = got[301]
    assert status == 301 and headers["Location"] == server.base_url + "/"


def test_robots_calendar_and_bot_blocking(served):
    site, server = served
    status, _, robots = fetch(server.base_url + "/robots.txt")
    assert status == 200 and b"Disallow: /bcrb/private/" in robots
    _, _, period = fetch(server.base_url + "/bcrb/pc/layout/202504/period.xml")
    dates = re.findall(r"<period_date>(.*?)</period_date>", period.decode())
    assert dates == ["2025-04-27", "2025-04-28"]  # the missing dates are not listed
    url = server.base_url + site.url_for(DAY)
    assert fetch(url, **{"User-Agent": "Scrapy/2.19.0 (+https://scrapy.org)"})[0] == 403


def test_charset_trap_meta_says_gb2312_bytes_are_utf8(served):
    site, server = served
    _, headers, body = fetch(server.base_url + site.truth(DAY)["articles"][1]["url"])
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"charset=gb2312" in body
    body.decode("utf-8")


def test_page_pdfs_are_real_and_carry_the_page_text(served):
    site, server = served
    page = site.truth(DAY)["pages"][0]
    status, headers, body = fetch(server.base_url + page["pdf_url"])
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    with pdfplumber.open(io.BytesIO(body)) as pdf:
        text = "".join(p.extract_text() or "" for p in pdf.pages)
    assert f"第01版：{page['page_name']}" in text


def test_server_counts_and_stops(served):
    site, server = served
    before = server.requests, server.bytes_sent
    fetch(server.base_url + site.url_for(DAY))
    assert server.requests == before[0] + 1 and server.bytes_sent > before[1]


def test_demo_sites():
    sites = demo_sites()
    assert len([s for s in sites if len(s.dates) >= 3 and s.missing]) >= 2
    assert {s.family for s in sites} == set(FAMILIES)
    entry = sites[0].paper_entry("http://127.0.0.1:8000")
    assert set(entry) == {"id", "name", "region", "family", "edition_url", "schedule", "timezone"}
    assert (
        entry["edition_url"].startswith("http://127.0.0.1:8000/")
        and "{date:" in entry["edition_url"]
    )
    with ReplicaServer(sites) as server:
        for site in sites:
            for day in site.dates:
                assert fetch(server.base_url + site.url_for(day))[0] == 200


# --- each family's own traps ---------------------------------------------------------


@pytest.fixture(scope="module")
def families():
    sites = {
        f: build_site(f, f.replace("-", ""), [DAY])
        for f in ("founder-classic", "paperindex", "xmwb", "whb", "jfdaily")
    }
    with ReplicaServer(list(sites.values())) as server:
        yield sites, server


def bodies(site, server, kind="articles"):
    return [fetch(server.base_url + x["url"]) for x in site.truth(DAY)[kind]]


def test_founder_classic_gbk_under_gb2312_label_and_lying_headers(families):
    sites, server = families
    site = sites["founder-classic"]
    pages = site.truth(DAY)["pages"]
    assert pages[0]["url"].endswith("/node_2.htm")
    ids = [int(re.search(r"node_(\d+)", p["url"]).group(1)) for p in pages]
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # not sequential
    answers = bodies(site, server)
    assert all(b"charset=gb2312" in body for _, _, body in answers)
    with pytest.raises(UnicodeDecodeError):  # GBK-only characters (镕 喆 …) under the gb2312 label
        b"".join(body for _, _, body in answers).decode("gb2312")
    lying = [body for _, h, body in answers if h["Content-Type"].endswith("utf-8")]
    assert lying and all(not _utf8(body) for body in lying)
    _, _, entry = fetch(f"{server.base_url}/{site.paper}/html/paperindex.htm")
    assert b'http-equiv="refresh"' in entry and b"node_2.htm" in entry


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_paperindex_declares_no_charset(families):
    sites, server = families
    site = sites["paperindex"]
    truth = site.truth(DAY)
    assert all(re.search(r"/Articel\d{5}[A-Z]{2}\.htm$", a["url"]) for a in truth["articles"])
    assert len({p["url"][-6:-4] for p in truth["pages"]}) > 1  # suffix letters vary
    _, headers, body = fetch(server.base_url + truth["pages"][1]["url"])
    assert headers["Content-Type"] == "text/html" and b"charset" not in body
    assert not _utf8(body) and truth["pages"][1]["page_name"] in body.decode("gb18030")


def test_xmwb_lettered_pages_and_link_styles(families):
    sites, server = families
    site = sites["xmwb"]
    truth = site.truth(DAY)
    page = fetch(server.base_url + truth["pages"][0]["url"])[2].decode()
    assert re.search(
        r'<p class="dzb-multi-download"><a href="//127\.0\.0\.1:\d+/', page
    )  # protocol-relative
    assert re.search(r'<area [^>]*href="/xmwb/html/xmwb/', page)  # root-relative hotspots
    assert ">A1版：要闻<" in page and re.search(r">B\d版：", page)
    assert truth["articles"][0]["title"] == "报头" and truth["articles"][0]["kind"] == "pseudo"


def test_whb_script_links_and_nbsp_paragraphs(families):
    sites, server = families
    site = sites["whb"]
    truth = site.truth(DAY)
    page = fetch(server.base_url + truth["pages"][0]["url"])[2].decode()
    assert 'class="TitleInfo" href="javascript:;"' in page and 'data-href="../2/index.html"' in page
    assert "<area" not in page and re.search(r'<map id="newspaper">\s*<span data-href=', page)
    art = truth["articles"][2]
    text = fetch(server.base_url + art["url"])[2].decode()
    assert "<p>" not in text.split('id="newsContent"')[1]
    assert "&nbsp;&nbsp;&nbsp;&nbsp;" + art["paragraphs"][1][:10] in text


def test_jfdaily_json_api(families):
    import json

    sites, server = families
    site = sites["jfdaily"]
    status, headers, navi = fetch(server.base_url + site.url_for(DAY))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    pages = json.loads(navi)["pages"]
    assert [p["pnumber"] for p in pages] == ["01", "02", "03", "04"]
    first = pages[0]["articleList"][1]
    doc = json.loads(
        fetch(
            f"{server.base_url}/jfdaily/staticsg/data/journal/{DAY}/01/article/{first['id']}.json"
        )[2]
    )
    assert doc["article"]["title"] == first["title"]
    assert isinstance(json.loads(doc["article"]["pincurls"]), list)  # JSON inside JSON
    assert not any(a["hidden"] for a in site.truth(DAY)["articles"])  # the API lists everything
