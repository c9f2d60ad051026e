"""新民晚报 (paper.xinmin.cn): html/xmwb/YYYY-MM-DD/N.html pages,
html/xmwb/YYYY-MM-DD/N/ID.html articles.

Traps carried: lettered page labels (A1 … B2) whose numbers repeat, a table of
contents (目录) listing every page's stories beside this page's own list, root-relative
hotspot links, a protocol-relative PDF link, the masthead published as an article
(新民晚报's content_1_9), hotspot-only articles, an ad page, a 404 date and a
301-to-root date.
"""

from __future__ import annotations

from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, html_doc
from . import odd


class Xmwb(Renderer):
    family = "xmwb"
    # its real site is one; variants (`variant=seed`) vary how links are written
    variants = {"links": ("relative", "root", "absolute")}
    default_options = {"masthead": True}

    @property
    def root(self) -> str:
        return f"/{self.site.paper}/html/{self.site.paper}"

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/{{date:%Y-%m-%d}}/1.html"

    def page_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/{ed.date:%Y-%m-%d}/{page.no}.html"

    def article_path(self, slot: Slot) -> str:
        return f"{self.root}/{slot.edition.date:%Y-%m-%d}/{slot.page.no}/{slot.id}.html"

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"/{self.site.paper}/resfile/{ed.date:%Y-%m-%d}/{self.label_no(page)}/"
            f"{self.site.digest(ed.date, page.no)[:16]}.pdf"
        )

    def image_path(self, ed: Edition, page: Page) -> str:
        return f"/{self.site.paper}/resfile/{ed.date:%Y-%m-%d}/{page.no}.jpg"

    def label_no(self, page: Page) -> str:
        half = (self.site.pages + 1) // 2
        return f"A{page.no}" if page.no <= half else f"B{page.no - half}"

    def label(self, page: Page) -> str:
        return f"第{self.label_no(page)}版：{page.name}"

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        # with odd links, each entry's fold-out toggle leads nowhere
        toggle = (
            '<a class="dzb-enter-mulu-toggle" href="javascript:void(0)">展开</a>'
            if self.opt.get("odd_links")
            else ""
        )
        toc = "\n".join(
            odd.page_list(
                self.opt,
                [
                    f'<div class="dzb-enter-mulu-wrap-nav">{toggle}'
                    '<a class="dzb-enter-mulu-wrap-nav-title" '
                    f'href="{self.link(here, path, host)}">'
                    f"{escape(self.label(p)[1:])}</a>"
                    + "".join(
                        f'<div><a href="{s.path}">{escape(s.story.article.title)}</a></div>'
                        for s in self.slots_of(p)
                        if not s.story.hidden
                    )
                    + "</div>"
                    for p, path in self.pages_of(ed)
                ],
                lambda href, text: (
                    f'<div class="dzb-enter-mulu-wrap-nav"><a href="{href}">{text}</a></div>'
                ),
            )
        )
        own = "\n".join(
            odd.article_list(
                self.opt,
                [
                    f'<div><a href="{self.link(here, s.path, host)}">'
                    f"{escape(s.story.article.title)}</a></div>"
                    for s in self.slots_of(page)
                    if not s.story.hidden
                ],
                lambda href, text: f'<div><a href="{href}">{text}</a></div>',
            )
        )
        hotspots = [(self.root_relative(here, h), c) for h, c in self.hotspots(page, here)]
        areas = "\n".join(
            f'<area shape="polygon" coords="{c}" href="{h}">'
            for h, c in odd.image_map(self.opt, hotspots)
        )
        body = (
            f'<div class="dzb-enter-mulu-wrap">\n{toc}\n</div>\n'
            '<div class="dzb-enter-banmian"><span class="dzb-banmian-title">'
            f"{escape(self.label(page))}</span>\n"
            '<p class="dzb-multi-download">'
            f'<a href="//{host}{self.site.pdf_paths[ed.date][page.no]}">下载本版PDF</a></p>\n'
            f'<img src="{self.site.image_paths[ed.date][page.no]}" '
            'usemap="#PagePicMap">\n'
            f'<map name="PagePicMap">\n{areas}\n</map></div>\n'
            f'<div class="dzb-enter-benban-wrap">\n{own}\n</div>'
        )
        return Resource(html_doc(f"{self.site.name} {self.label(page)}", body).encode("utf-8"))

    @staticmethod
    def root_relative(here: str, href: str) -> str:
        """Hotspots here are written from the server root: /xmwb/html/…"""
        parts = here.split("/")[:-1]
        for seg in href.split("/"):
            if seg == "..":
                parts.pop()
            else:
                parts.append(seg)
        return "/".join(parts)

    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        paras = "\n".join(f'<p class="dzb-desc-box">{escape(p)}</p>' for p in a.paragraphs)
        body = (
            '<div class="dzb-article-wrap"><span class="dzb-banmian-title">'
            f"{escape(self.label(slot.page))}</span>\n"
            f'<div class="dzb-special-title-box">{escape(a.kicker)}</div>\n'
            f'<h2 class="dzb-title-box">{escape(a.title)}</h2>\n'
            f'<div class="dzb-sub-title-box">{escape(a.subtitle)}</div>\n'
            f'<div class="dzb-author-box">{escape(a.author)}</div>\n'
            f'<div class="dzb-article-content">\n{paras}\n</div></div>'
        )
        return Resource(html_doc(f"{a.title} - {self.site.name}", body).encode("utf-8"))
