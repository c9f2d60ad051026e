"""PaperIndex ("content/YYYYMMDD/PageNNxx.htm", "ArticelNNKKKxx.htm")."""

from .base import EditionSpider


class PaperIndexSpider(EditionSpider):
    name = "paperindex"
    page_entries = ("table#pagelist tr", "a.rigth_bmdh_href")
    article_links = ("td a.atitle",)
    current_page = ("table#table5 td::text",)
    article_title = ("span#contenttext div strong::text",)
