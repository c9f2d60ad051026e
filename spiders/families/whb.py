"""文汇报 (dzb.whb.cn): script-driven page list and hotspots."""

from .base import EditionSpider


class WhbSpider(EditionSpider):
    name = "whb"
    page_entries = ("#spaceBox > div.item",)  # a.TitleInfo[data-href], then the PDF
    article_links = ("div.title_box.list > a",)
    hotspot_links = ("map#newspaper span::attr(data-href)", "map area::attr(href)")
    article_title = ("div.news_header h1::text",)
