"""Odd links, as real e-paper pages carry them beside their articles (option `odd_links`).

Founder image maps hold `<area href="javascript:…">` hotspots and open articles by script
(`javascript:window.open('content_1.htm')`), footers and page lists a `mailto:` link,
article lists `#` and `javascript:;` placeholders. The renderers put these first and among
the real entries of the image map, the article list and the page list, so that a spider
that stops at one of them loses the entries after it.
"""

from __future__ import annotations

from collections.abc import Callable

MAILTO = "mailto:dzb@epaper.example.cn"
NO_URL_SCRIPT = "javascript:showPicture(2)"
# What a spider cannot fetch: each must be skipped with its reason.
SKIPPED = (MAILTO, NO_URL_SCRIPT)
# What leads nowhere by design: ignored.
IGNORED = ("", "#", "javascript:;", "javascript:void(0)")

PAGE_LIST = ((MAILTO, "联系我们"), ("javascript:void(0)", "往期回顾"))
ARTICLE_LIST = (
    ("#", "返回顶部"),
    (MAILTO, "读者来信"),
    ("javascript:;", "更多"),
    (NO_URL_SCRIPT, "图片新闻"),
)
IMAGE_MAP = ("javascript:void(0)", NO_URL_SCRIPT, "", "#", MAILTO)


def among(entries: list[str], odd: list[str]) -> list[str]:
    """The first odd entry before the real ones, the others after the first real one."""
    return [*odd[:1], *entries[:1], *odd[1:], *entries[1:]]


def page_list(opt: dict, entries: list[str], render: Callable[[str, str], str]) -> list[str]:
    """The page list's entries; with `odd_links`, links to no page among them."""
    if not opt.get("odd_links"):
        return entries
    return among(entries, [render(href, text) for href, text in PAGE_LIST])


def article_list(opt: dict, entries: list[str], render: Callable[[str, str], str]) -> list[str]:
    """A page's article list; with `odd_links`, links to no article among them."""
    if not opt.get("odd_links"):
        return entries
    return among(entries, [render(href, text) for href, text in ARTICLE_LIST])


def image_map(opt: dict, hotspots: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(href, coords) of a page's hotspots; with `odd_links`, each article's is opened by
    script, and hotspots that open no page come first."""
    if not opt.get("odd_links"):
        return hotspots
    odd = [
        (href, f"0,{i * 9},9,{i * 9},9,{i * 9 + 9},0,{i * 9 + 9}")
        for i, href in enumerate(IMAGE_MAP)
    ]
    return odd + [(f"javascript:window.open('{href}')", coords) for href, coords in hotspots]
