"""A family of one's own, outside papers/families/: founder-new's layoutlist skin under
another name. tests/test_families.py loads it with EPAPER_FAMILY_MODULES=tests.family_example."""

from papers.family import Family, Skin, Walk

FAMILY = Family(
    name="example-founder",
    description="pc/layout/YYYYMM/DD/node_N.html with ul#layoutlist (founder-new's layoutlist)",
    walk=Walk(
        page_entries=("ul#layoutlist li",),
        article_links=("div#titleList li a",),
        article_title=("h2#Title::text",),
    ),
    skins=(
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
