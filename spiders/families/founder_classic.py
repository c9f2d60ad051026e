"""Founder classic ("html/YYYY-MM/DD/node_N.htm"), mostly GBK sites."""

from .base import EditionSpider


class FounderClassicSpider(EditionSpider):
    name = "founder-classic"
    page_entries = ("table#bmdhTable tr", "td.default")
    article_links = ("#main-ed-articlenav-list a", "ul.main-ed-articlenav-list li a")
    article_title = ("td.font01::text",)
