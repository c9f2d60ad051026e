"""新民晚报 (paper.xinmin.cn)."""

from .base import EditionSpider


class XmwbSpider(EditionSpider):
    name = "xmwb"
    # the table of contents: each entry opens with its page's link, then that page's stories
    page_entries = ("div.dzb-enter-mulu-wrap-nav",)
    article_links = ("div.dzb-enter-benban-wrap div a",)
    pdf_links = ("p.dzb-multi-download a::attr(href)",)
    current_page = ("span.dzb-banmian-title::text",)
    article_title = ("h2.dzb-title-box::text",)
