"""Founder new ("pc/layout/YYYYMM/DD/node_NN.html"), all its skins."""

from papers.family import DEFAULT_PDFS, Family, Skin, Walk

FAMILY = Family(
    name="founder-new",
    description="pc/layout/YYYYMM/DD/node_NN.html, articles pc/content/…/content_N.html",
    walk=Walk(
        page_entries=(
            "div.swiper-slide",  # 人民日报 skin: a#pageLink
            "div.Chunkiconlist p",  # Chunkicon/ScroLeft skin: a[1] page, a[2] PDF
            "ul#layoutlist li",  # layoutlist/PreTitle skin
        ),
        article_links=(
            "ul.news-list li a",
            "div#ScroLeft div.newslist li h3 a",
            "div#titleList li a",
        ),
        pdf_links=("p.right.btn a::attr(href)", *DEFAULT_PDFS),
        current_page=("p.left.ban::text",),
        article_title=("div.article h1::text", "div.newsdetatit h3::text", "h2#Title::text"),
        # pc/layout/…/node_01.html, node_A01, n_01, col01 (pc/column/… at 常德日报); articles
        # under pc/content, con, c, col, cont (content_N, or cN at 安徽商报); 人民日报 before
        # 2024-12: nbs.D110000… pages, nw.D110000… articles
        page_url=(
            r"/(?:layout|column)/\d{6}/\d\d/[A-Za-z_]*\d+[A-Za-z]?\.html$"
            r"|/nbs\.D110000\w*?_\d+\.htm$"
        ),
        article_url=(
            r"/(?:content|con|c|col|cont)/\d{6}/\d\d/(?:content_|c)\d+(?:_\d+)?\.html$"
            r"|/nw\.D110000\w*?_\d+_\d+-\d+\.htm$"
        ),
    ),
    skins=(
        Skin(
            "people",
            body=("div#ozoom",),
            title="div.article h1",
            kicker="div.article h3",
            subtitle="div.article h2",
            author="div.article p.sec",
            page="p.ban",
        ),
        Skin(
            "chunkicon",
            body=("div.newsdetatext founder-content", "div.newsdetatext"),
            title="div.newsdetatit h3",
            kicker="div.intro",
            subtitle="div.sub",
            author="div.newsdetail div.author",
        ),
        Skin(
            "layoutlist",
            body=("div#ozoom founder-content", "div#ozoom"),
            title="h2#Title",
            kicker="p#PreTitle",
            subtitle="p#SubTitle",
            author="p#Author",
            images="div.attachment",
        ),
    ),
)
