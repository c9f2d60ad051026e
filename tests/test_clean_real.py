"""Clean on article markup rebuilt from public crawler code (issue 15, "Fields too").

Each page below is small, but its field elements are the ones a real paper's crawler reads
(the repo and path of that crawler in a comment); the text is the replica's kind of story.
The site's <title> is the paper's name on every page, as on most real e-papers, so a title
read from <title> is wrong.
"""

import pytest

from papers import family as registry
from text.clean import clean_article

STORY = (
    "本报讯（记者 王建夫 通讯员 徐文革）4月28日，全市春季植树活动在城北新区启动。",
    "活动现场，干部群众一起挥锹培土，栽下银杏、香樟等苗木一千二百余株。",
)
BODY_P = "".join(f"<P>\u3000\u3000{p}</P>" for p in STORY)
TEXT = "4月28日，全市春季植树活动在城北新区启动。\n" + STORY[1]
SOURCE = "本报讯（记者 王建夫 通讯员 徐文革）"


def page(site: str, body: str, charset: str = "utf-8") -> str:
    return (
        f'<html><head><meta charset="{charset}"><title>{site}</title></head>'
        f"<body>{body}</body></html>"
    )


def item(html: str, family: str, url: str) -> dict:
    return {
        "paper": "x",
        "date": "2025-04-29",
        "family": family,
        "page_no": 3,
        "page_name": "城市",
        "url": url,
        "article_id": "content_1",
        "html": html,
        "content_type": "text/html",
        "via": "list",
        "kind": "news",
        "list_title": "",
    }


CLASSIC_URL = "http://epaper.example.cn/html/2025-04/29/content_1.htm"

# Each case: (id, family, url, html, expected fields). "skin" is the family/skin that must read it.
CASES = [
    (
        # xiaoxiaosuaxuan/newscrapy hainanbao.py (海南日报): title td.font01, body founder-content;
        # 引题/副题 td.font02 above/below it and td.font03 author as the classic table.wz prints
        "classic-font01",
        "founder-classic",
        CLASSIC_URL,
        page(
            "海南日报",
            '<table class="wz"><tr><td class="font02">绿化家园 共建美好</td></tr>'
            '<tr><td class="font01">全市春季植树活动启动</td></tr>'
            '<tr><td class="font02">栽下苗木一千二百余株</td></tr>'
            '<tr><td class="font03">本报记者 王建夫</td></tr></table>'
            f'<div id="ozoom"><founder-content><!--enpcontent-->{BODY_P}'
            "<!--/enpcontent--></founder-content></div>",
        ),
        {
            "skin": "founder-classic/classic",
            "kicker": "绿化家园 共建美好",
            "title": "全市春季植树活动启动",
            "subtitle": "栽下苗木一千二百余株",
            "author": "王建夫",
        },
    ),
    (
        # /work/shared/research/epaper-sites.md ("Titles in td.font01, td.fon01 strong") and
        # issue 15: a classic site whose title cell is td.fon01 with the headline in <strong>
        "classic-fon01",
        "founder-classic",
        CLASSIC_URL,
        page(
            "石狮日报",
            '<table><tr><td class="font02">绿化家园 共建美好</td></tr>'
            '<tr><td class="fon01"><strong>全市春季植树活动启动</strong></td></tr></table>'
            f'<div id="ozoom"><founder-content>{BODY_P}</founder-content></div>',
        ),
        {
            "skin": "founder-classic/classic",
            "kicker": "绿化家园 共建美好",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy newscrapy/spiders/luoyangdaily.py (洛阳日报) and
        # newscrapy/spiders/pingdingshanwanbao.py (平顶山晚报): title = td[@align='center']/span
        # (引题) + td[@align='center']/strong (标题), body //founder-content; the photo's
        # caption cell is centred too
        "classic-centred",
        "founder-classic",
        "http://lyrb.example.cn/html2/2025-04/29/content_1.htm",
        page(
            "洛阳日报",
            '<table><tr><td align="center"><span>绿化家园 共建美好</span><br>'
            "<strong>全市春季植树活动启动</strong></td></tr></table>"
            '<table bgcolor="#FFFFFF"><tr><td align="center"><img src="../../../res/1.jpg">'
            "</td></tr></table>"
            f"<founder-content>{BODY_P}</founder-content>",
            "gb2312",
        ),
        {
            "skin": "founder-classic/centred",
            "kicker": "绿化家园 共建美好",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy newscrapy/spiders/ncxxb.py (农村信息报, classic URLs):
        # h1.main-article-title, h3.main-article-subtitle, body div.main-article-con,
        # photos td.article-pic
        "classic-main-article",
        "founder-classic",
        "http://www.ncxxb.example.cn/html/2025-04/29/content_1.htm",
        page(
            "农村信息报",
            '<div class="main-article"><h1 class="main-article-title">全市春季植树活动启动</h1>'
            '<h3 class="main-article-subtitle">栽下苗木一千二百余株</h3>'
            '<table><tr><td class="article-pic"><img src="../../../res/2.jpg"></td></tr>'
            f'</table><div class="main-article-con">{BODY_P}</div></div>',
        ),
        {
            "skin": "founder-classic/main-article",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "栽下苗木一千二百余株",
            "author": "王建夫 徐文革",
            "images": ["http://www.ncxxb.example.cn/res/2.jpg"],
        },
    ),
    (
        # yeyeshengge2437/bm_lyh_project 报纸/paper/henan_paper.py (河南日报, newpaper.dahe.cn):
        # body //div[@class='info']/div[@id='articleContent']; the crawler takes the title
        # from the hotspot, so the page's heading (here an h1 in div.info) must be found
        "classic-dahe",
        "founder-classic",
        "https://newpaper.example.cn/hnrb/html/2025-04/29/content_1.htm",
        page(
            "河南日报",
            '<div class="info"><h1>全市春季植树活动启动</h1>'
            f'<div id="articleContent">{BODY_P}</div></div>',
        ),
        {
            "skin": "founder-classic/dahe",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy guangzhoudaily.py (广州日报): //founder-title,
        # //founder-content, photos in table#newspic
        "classic-founder-tags",
        "founder-classic",
        "https://gzdaily.example.com/pc/html/2025-04/29/content_1.htm",
        page(
            "广州日报",
            "<founder-title>全市春季植树活动启动</founder-title>"
            '<table id="newspic"><tr><td><img src="../../../res/3.jpg"></td></tr>'
            '<tr><td class="font6">市民在城北新区植树</td></tr></table>'
            f"<founder-content>{BODY_P}</founder-content>",
        ),
        {
            "skin": "founder-classic/founder-tags",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
            "images": ["https://gzdaily.example.com/pc/res/3.jpg"],
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy newscrapy/spiders/1nmrb.py (农民日报, szb.farmer.com.cn):
        # title td.font01 + td.font02, body //td[@class='font6']//p
        "classic-font6",
        "founder-classic",
        "https://szb.example.cn/2025/20250429/20250429_003/20250429_003_1.htm",
        page(
            "农民日报",
            '<table><tr><td class="font01">全市春季植树活动启动</td></tr>'
            '<tr><td class="font02">栽下苗木一千二百余株</td></tr>'
            f'<tr><td class="font6">{BODY_P}</td></tr></table>',
        ),
        {
            "skin": "founder-classic/font6",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "栽下苗木一千二百余株",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy fazhidaily.py (法制日报, PaperIndex URLs):
        # title //span[@align='center']/strong, body //span[@id='oldcontenttext']
        "paperindex-oldcontent",
        "paperindex",
        "http://epaper.example.cn/fzrb/content/20250429/Articel03002TB.htm",
        page(
            "法制日报",
            '<span align="center"><strong>全市春季植树活动启动</strong></span>'
            f'<span id="oldcontenttext">{BODY_P}</span>',
        ),
        {
            "skin": "paperindex/oldcontent",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # xiaoxiaosuaxuan/newscrapy daliandaily.py (大连日报, Chunkicon) reads
        # //div[@class='newsdetatit']//h3 and //founder-content; liaoningdaily.py (辽宁日报)
        # reads //div[@class='intro'] (the 引题)
        "new-chunkicon",
        "founder-new",
        "http://szb.example.cn/epaper/dlrb/pc/content/202504/29/content_1.html",
        page(
            "大连日报",
            '<div class="newsdetail"><div class="intro">绿化家园 共建美好</div>'
            '<div class="newsdetatit"><h3>全市春季植树活动启动</h3></div>'
            '<div class="sub">栽下苗木一千二百余株</div>'
            f'<div class="newsdetatext"><founder-content>{BODY_P}</founder-content></div></div>',
        ),
        {
            "skin": "founder-new/chunkicon",
            "kicker": "绿化家园 共建美好",
            "title": "全市春季植树活动启动",
            "subtitle": "栽下苗木一千二百余株",
            "author": "王建夫 徐文革",
        },
    ),
    (
        # yeyeshengge2437/bm_lyh_project 报纸/paper/gansujingji_paper.py (甘肃经济日报, nav-list
        # platform): body //div[@class='detail-art']/div[@id='ozoom']/founder-content; its
        # title element is not recorded (the crawler takes the list's h4), so the h2 here
        # stands for the page's heading: layoutlist's body with no h2#Title
        "new-detail-art",
        "founder-new",
        "https://szb.example.cn/gsjjrb/pc/content/202504/29/content_1.html",
        page(
            "甘肃经济日报",
            '<div class="detail-art"><h2>全市春季植树活动启动</h2>'
            f'<div id="ozoom"><founder-content>{BODY_P}</founder-content></div></div>',
        ),
        {
            "skin": "founder-new/layoutlist",
            # with no title cell either way, the first Founder body (founder-content) reads it
            "undeclared_skin": "founder-classic/classic",
            "kicker": "",
            "title": "全市春季植树活动启动",
            "subtitle": "",
            "author": "王建夫 徐文革",
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_real_skins_read_every_field(case):
    _, family, url, html, want = case
    got = clean_article(item(html, family, url))
    assert got["warnings"] == []  # the declared family's own skin, no fallback
    for field in ("kicker", "title", "subtitle", "author"):
        assert got[field] == want[field], field
    assert got["source"] == SOURCE
    assert got["text"] == TEXT
    assert [i["url"] for i in got["images"]] == want.get("images", [])
    fam, skin = want["skin"].split("/")
    assert skin in [s.name for s in registry.get(fam).skins]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_real_skin_found_from_another_family(case):
    """A paper declared under the wrong family still gets its headline, with a warning."""
    _, family, url, html, want = case
    other = "xmwb"
    got = clean_article(item(html, other, url))
    assert got["title"] == want["title"]
    assert got["text"] == TEXT
    read_by = want.get("undeclared_skin", want["skin"])
    assert any(w.startswith(f"selectors of {read_by} used") for w in got["warnings"])


# yeyeshengge2437/bm_lyh_project 报纸/paper/chongqingchen_paper.py (重庆晨报): body
# //div[@id='doccontent']/div[1], a skin no family has; <title> is the site's name.
DOCCONTENT = page(
    "重庆晨报数字报",
    '<div class="logo"><h1><a href="/">重庆晨报</a></h1></div>'
    '<div class="detail"><h1>全市春季植树活动启动</h1><h2>栽下苗木一千二百余株</h2>'
    '<div id="doccontent"><div>' + "".join(f"<p>{p}</p>" for p in STORY * 3) + "</div></div></div>",
)


def test_unknown_skin_takes_the_headline_not_the_document_title():
    got = clean_article(item(DOCCONTENT, "founder-new", "https://epaper.example.com/c/1.html"))
    assert "no family selectors matched: trafilatura fallback" in got["warnings"]
    assert got["title"] == "全市春季植树活动启动"
    assert got["subtitle"] == "栽下苗木一千二百余株"


def test_masthead_is_not_the_headline():
    """An h1 that is the site's name (the whole <title>) or a link is page furniture."""
    html = page(
        "农村信息报",
        "<h1>农村信息报</h1>"
        '<div class="main-article"><div class="main-article-title">全市春季植树活动启动</div>'
        f'<div class="main-article-con">{BODY_P}</div></div>',
    )
    got = clean_article(item(html, "founder-classic", CLASSIC_URL))
    assert got["title"] == "全市春季植树活动启动"


def test_body_only_skin_without_a_headline_says_so():
    html = page("河南日报", f'<div class="info"><div id="articleContent">{BODY_P}</div></div>')
    got = clean_article(item(html, "founder-classic", CLASSIC_URL))
    assert got["title"] == ""
    assert "title not found" in got["warnings"]
    assert got["text"] == TEXT
