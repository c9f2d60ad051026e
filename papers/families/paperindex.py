"""PaperIndex ("content/YYYYMMDD/PageNNxx.htm", "ArticelNNKKKxx.htm")."""

from papers.family import Family, Skin, Walk

FAMILY = Family(
    name="paperindex",
    description="content/YYYYMMDD/PageNNxx.htm, articles ArticelNNKKKxx.htm",
    walk=Walk(
        page_entries=("table#pagelist tr", "a.rigth_bmdh_href"),
        article_links=("td a.atitle",),
        current_page=("table#table5 td::text",),
        article_title=("span#contenttext div strong::text",),
        page_url=r"/Page\d+[A-Za-z]*\.htm$",
        article_url=r"/Articel\w+\.htm$",  # the sites' own spelling
    ),
    # 引题 div.yinti / 副题 div.futi, or both as <font> around the bold title.
    skins=(
        Skin(
            "paperindex",
            body=("span#contenttext div#ozoom", "span#contenttext"),
            title="span#contenttext div strong",
            kicker="div.yinti, span#contenttext div font",
            subtitle="div.futi, span#contenttext div font",
            author="div.zuozhe",
            page="table#table5 td",
        ),
        # 法制日报 (newscrapy fazhidaily): the bold title in span[align=center], the body in
        # span#oldcontenttext
        Skin(
            "oldcontent",
            body=("span#oldcontenttext",),
            title="span[align=center] strong",
            page="table#table5 td",
        ),
    ),
)
