"""文汇报 (dzb.whb.cn): YYYY-MM-DD/N/index.html pages, YYYY-MM-DD/N/detail-ID.html articles.

Traps carried: the page list is JavaScript-driven (`a.TitleInfo` with `href="javascript:;"`
and the target in `data-href`), hotspots are `<span data-href>` inside `map#newspaper`
(no `<area>` at all), article text is one block whose paragraphs are separated only
by runs of no-break spaces, hotspot-only articles, an ad page, a 404 date and a
301-to-root date.
"""

from __future__ import annotations

from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, html_doc
from . import odd


class Whb(Renderer):
    family = "whb"
    # its real site is one; variants (`variant=seed`) vary how links are written
    variants = {"links": ("relative", "root", "absolute")}

    @property
    def root(self) -> str:
        return f"/{self.site.paper}"

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/{{date:%Y-%m-%d}}/1/index.html"

    def page_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/{ed.date:%Y-%m-%d}/{page.no}/index.html"

    def article_path(self, slot: Slot) -> str:
        return f"{self.root}/{slot.edition.date:%Y-%m-%d}/{slot.page.no}/detail-{slot.id}.html"

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"{self.root}/images/{ed.date:%Y-%m/%d}/{page.no}/"
            f"{self.site.digest(ed.date, page.no)[:14]}.pdf"
        )

    def image_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/images/{ed.date:%Y-%m/%d}/{page.no}/p.jpg"

    @staticmethod
    def label(page: Page) -> str:
        return f"第{page.no:02d}版：{page.name}"

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        items = "\n".join(
            odd.page_list(
                self.opt,
                [
                    '<div class="item"><a class="TitleInfo" href="javascript:;" '
                    f'title="{escape(self.label(p))}" '
                    f'data-href="{self.link(here, path, host)}">{escape(self.label(p))}</a>'
                    '<a class="pdf" '
                    f'href="{self.link(here, self.site.pdf_paths[ed.date][p.no], host)}" '
                    "download>PDF</a></div>"
                    for p, path in self.pages_of(ed)
                ],
                lambda href, text: (
                    f'<div class="item"><a class="TitleInfo" href="javascript:;" '
                    f'data-href="{href}">{text}</a></div>'
                ),
            )
        )
        spans = "\n".join(
            f'<span data-href="{h}" data-coords="{c}"></span>'
            for h, c in odd.image_map(self.opt, self.hotspots(page, here))
        )
        titles = "\n".join(
            odd.article_list(
                self.opt,
                [
                    f'<a href="{self.link(here, s.path, host)}">{escape(s.story.article.title)}</a>'
                    for s in self.slots_of(page)
                    if not s.story.hidden
                ],
                lambda href, text: f'<a href="{href}">{text}</a>',
            )
        )
        body = (
            f'<div id="spaceBox">\n{items}\n</div>\n'
            '<div class="paper_box">'
            f'<img src="{self.link(here, self.site.image_paths[ed.date][page.no], host)}">\n'
            f'<map id="newspaper">\n{spans}\n</map></div>\n'
            f'<div class="title_box list">\n{titles}\n</div>\n'
            '<script>$("#spaceBox a.TitleInfo").click('
            'function(){location.href=$(this).data("href")});</script>'
        )
        return Resource(html_doc(f"文汇报 {self.label(page)}", body).encode("utf-8"))

    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        text = "".join("&nbsp;" * 4 + escape(p) for p in a.paragraphs)
        body = (
            f'<div class="news_header"><h2 class="pretitle">{escape(a.kicker)}</h2>\n'
            f'<h1>{escape(a.title)}</h1>\n<h2 class="subtitle">{escape(a.subtitle)}</h2>\n'
            f'<p class="author">{escape(a.author)}</p>\n'
            f'<p class="page">{escape(self.label(slot.page))}</p></div>\n'
            f'<div id="newsContent" class="news_content">{text}</div>'
        )
        return Resource(html_doc(f"{a.title}", body).encode("utf-8"))
