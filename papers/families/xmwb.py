"""新民晚报 (paper.xinmin.cn)."""

from papers.family import Family, Skin, Walk

FAMILY = Family(
    name="xmwb",
    description="新民晚报: paper.xinmin.cn/html/xmwb/YYYY-MM-DD/N.html",
    walk=Walk(
        # the table of contents: each entry opens with its page's link, then that page's stories
        page_entries=("div.dzb-enter-mulu-wrap-nav",),
        article_links=("div.dzb-enter-benban-wrap div a",),
        pdf_links=("p.dzb-multi-download a::attr(href)",),
        current_page=("span.dzb-banmian-title::text",),
        article_title=("h2.dzb-title-box::text",),
        page_url=r"/html/\w+/\d{4}-\d\d-\d\d/\d+\.html$",
        article_url=r"/html/\w+/\d{4}-\d\d-\d\d/\d+/\w+\.html$",
        articles_anywhere=False,  # every page's table of contents lists all pages' stories
    ),
    skins=(
        Skin(
            "xmwb",
            body=("div.dzb-article-content", "div.dzb-article-box", "p.dzb-desc-box"),
            title="h2.dzb-title-box",
            kicker=".dzb-special-title-box",
            subtitle=".dzb-sub-title-box",
            author=".dzb-author-box",
            page="span.dzb-banmian-title",
        ),
    ),
)
