"""Founder classic ("html/YYYY-MM/DD/node_N.htm"), mostly GBK sites."""

from papers.family import Family, Skin, Walk

FAMILY = Family(
    name="founder-classic",
    description="html/YYYY-MM/DD/node_N.htm, articles content_N.htm",
    walk=Walk(
        page_entries=("table#bmdhTable tr", "td.default"),
        article_links=("#main-ed-articlenav-list a", "ul.main-ed-articlenav-list li a"),
        article_title=("td.font01::text",),
        # node_N.htm pages, content_N[_M].htm articles; 人民日报's nbs.D110000… / nw.D110000…
        page_url=r"/node_\d+\.htm$|/nbs\.D110000\w*?_\d+\.htm$",
        article_url=r"/content_\d+(?:_\d+)?\.htm$|/nw\.D110000\w*?_\d+_\d+-\d+\.htm$",
    ),
    # Classic prints 引题 and 副题 in the same td.font02 cells, above and below the title.
    skins=(
        Skin(
            "classic",
            body=("founder-content", "div#ozoom"),
            title="td.font01, td.fon01 strong",
            kicker="td.font02",
            subtitle="td.font02",
            author="td.font03",
        ),
        # 洛阳日报, 平顶山晚报 (newscrapy): the title bold in a centred cell, 引题 a span above it
        Skin(
            "centred",
            body=("founder-content", "div#ozoom"),
            title="td[align=center] strong",
            kicker="td[align=center] span",
        ),
        # 农村信息报 (newscrapy ncxxb): h1/div.main-article-title, h3 副题, div.main-article-con
        Skin(
            "main-article",
            body=("div.main-article-con",),
            title=".main-article-title",
            subtitle=".main-article-subtitle",
            images="td.article-pic",
        ),
        # 河南日报 on newpaper.dahe.cn (bm_lyh henan_paper): only the body is recorded, the
        # headline is the page's own heading (text.clean finds it)
        Skin("dahe", body=("div.info div#articleContent",), title=""),
        # 广州日报 (newscrapy guangzhoudaily): <founder-title>, <founder-content>, table#newspic
        Skin(
            "founder-tags",
            body=("founder-content",),
            title="founder-title",
            images="table#newspic",
        ),
        # 农民日报 (newscrapy spiders/1nmrb): the classic title cells, the body in td.font6
        Skin(
            "font6",
            body=("td.font6",),
            title="td.font01",
            kicker="td.font02",
            subtitle="td.font02",
        ),
    ),
)
