"""Founder new ("pc/layout/YYYYMM/DD/node_NN.html"), all its skins."""

from .base import EditionSpider


class FounderNewSpider(EditionSpider):
    name = "founder-new"
    page_entries = (
        "div.swiper-slide",  # 人民日报 skin: a#pageLink
        "div.Chunkiconlist p",  # Chunkicon/ScroLeft skin: a[1] page, a[2] PDF
        "ul#layoutlist li",  # layoutlist/PreTitle skin
    )
    article_links = (
        "ul.news-list li a",
        "div#ScroLeft div.newslist li h3 a",
        "div#titleList li a",
    )
    pdf_links = ("p.right.btn a::attr(href)", *EditionSpider.pdf_links)
    current_page = ("p.left.ban::text",)
    article_title = ("div.article h1::text", "div.newsdetatit h3::text", "h2#Title::text")
