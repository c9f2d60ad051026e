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
            title="td.font01",
            kicker="td.font02",
            subtitle="td.font02",
            author="td.font03",
        ),
    ),
)
