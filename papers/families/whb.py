"""文汇报 (dzb.whb.cn): script-driven page list and hotspots."""

from papers.family import Family, Skin, Walk

FAMILY = Family(
    name="whb",
    description="文汇报: dzb.whb.cn/YYYY-MM-DD/N/index.html",
    walk=Walk(
        page_entries=("#spaceBox > div.item",),  # a.TitleInfo[data-href], then the PDF
        article_links=("div.title_box.list > a",),
        hotspot_links=("map#newspaper span::attr(data-href)", "map area::attr(href)"),
        article_title=("div.news_header h1::text",),
        page_url=r"/\d{4}-\d\d-\d\d/\d+/index\.html$",
        article_url=r"/\d{4}-\d\d-\d\d/\d+/detail-[\w-]+\.html$",
    ),
    # 引题 and 副题 are h2 or h3 (class pretitle/subtitle or none) around the h1.
    skins=(
        Skin(
            "whb",
            body=("div#newsContent",),
            title="div.news_header h1",
            kicker="div.news_header h2, div.news_header h3",
            subtitle="div.news_header h2, div.news_header h3",
            author="div.news_header .author",
            page="div.news_header p.page",
            nbsp_paragraphs=True,
        ),
    ),
)
