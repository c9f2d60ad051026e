"""解放日报 (shobserver.com): the edition is a JSON API, not pages."""

from papers.family import ApiWalk, Family

FAMILY = Family(
    name="jfdaily",
    description="解放日报: shobserver.com/staticsg/data/journal/YYYY-MM-DD/navi.json",
    walk=ApiWalk(
        # relative to navi.json: the reader app's view of a page, and an article's JSON
        page_view="../../../res/html/journal/index.html?date={date}&page={pnumber}",
        article_json="{pnumber}/article/{id}.json",
    ),
)
