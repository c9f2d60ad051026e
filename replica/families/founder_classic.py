"""Founder classic: html/YYYY-MM/DD/node_N.htm pages, content_N.htm articles.

Traps carried: node ids that are not page numbers and not sequential (the front page
keeps its id, the others are handed out anew each day), hotspot-only articles, a
masthead (报头) pseudo-article, an ad page, GBK bytes under a gb2312 label, article
pages whose HTTP header says utf-8 while the bytes and the meta tag are GBK, PDFs
linked ../../../images/…, the paperindex.htm entry that meta-refreshes to the latest
edition, a 404 date and a 301-to-root date.
"""

from __future__ import annotations

import random
from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, encode, html_doc
from . import odd

CHARSET = "gb2312"


class FounderClassic(Renderer):
    family = "founder-classic"
    default_options = {"front_node": 2, "masthead": True}

    @property
    def root(self) -> str:
        return f"/{self.site.paper}/html"

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/{{date:%Y-%m/%d}}/node_{self.opt['front_node']}.htm"

    def node_ids(self, ed: Edition) -> dict[int, int]:
        rng = random.Random(f"nodes:{self.site.paper}:{ed.date.isoformat()}")
        ids, n = {1: self.opt["front_node"]}, self.opt["front_node"]
        for page in ed.pages[1:]:
            n += rng.choice((1, 1, 2, 16, 579))
            ids[page.no] = n
        return ids

    def page_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/{ed.date:%Y-%m/%d}/node_{self.node_ids(ed)[page.no]}.htm"

    def article_path(self, slot: Slot) -> str:
        return f"{self.root}/{slot.edition.date:%Y-%m/%d}/content_{slot.id}.htm"

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"/{self.site.paper}/images/{ed.date:%Y-%m/%d}/{page.no:02d}/"
            f"{self.site.digest(ed.date, page.no)[:12]}.pdf"
        )

    @staticmethod
    def label(page: Page) -> str:
        return f"第{page.no:02d}版：{page.name}"

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        rows = "\n".join(
            odd.page_list(
                self.opt,
                [
                    '<tr><td class="default"><img src="../../../img/dot.gif">'
                    f'<a id="pageLink" href="{self.rel(here, path)}">'
                    f'{escape(self.label(p))}</a></td><td class="default">'
                    f'<a href="{self.rel(here, self.site.pdf_paths[ed.date][p.no])}">'
                    f'<img src="../../../img/pdf.gif" border="0"></a></td></tr>'
                    for p, path in self.pages_of(ed)
                ],
                lambda href, text: f'<tr><td class="default"><a href="{href}">{text}</a></td></tr>',
            )
        )
        slots = self.slots_of(page)
        area_html = "\n".join(
            f'<area shape="polygon" coords="{c}" href="{h}">'
            for h, c in odd.image_map(self.opt, self.hotspots(page, here))
        )
        items = "\n".join(
            odd.article_list(
                self.opt,
                [
                    f'<tr><td><div style="display:inline" id="mp{s.id}">'
                    f'<a href="{self.rel(here, s.path)}">'
                    f"{escape(s.story.article.title)}</a></div></td></tr>"
                    for s in slots
                    if not s.story.hidden
                ],
                lambda href, text: f'<tr><td><a href="{href}">{text}</a></td></tr>',
            )
        )
        body = (
            f'<table id="bmdhTable" cellspacing="0" cellpadding="0">\n{rows}\n</table>\n'
            f'<img src="../../../images/{ed.date:%Y-%m/%d}/{page.no:02d}/p.jpg" '
            'usemap="#PagePicMap" border="0">\n'
            f'<map name="PagePicMap">\n{area_html}\n</map>\n'
            f'<table id="main-ed-articlenav-list">\n{items}\n</table>'
        )
        # the page declares its charset only in the meta tag
        doc = html_doc(f"{self.site.name}-{self.label(page)}", body, charset=CHARSET)
        return Resource(encode(doc, CHARSET), "text/html")

    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        ed = slot.edition
        paras = "".join(f"<P>{escape(p)}</P>" for p in a.paragraphs)
        prop = (
            f"<!--enpproperty <articleid>{slot.id}</articleid><date>{ed.date} 09:28:27.0</date>"
            f"<author>{escape(a.author)}</author><title>{escape(a.title)}</title>"
            f"<subtitle>{escape(a.subtitle)}</subtitle><introtitle>{escape(a.kicker)}</introtitle>"
            f"<pagenum>{slot.page.no:02d}</pagenum><pagename>{escape(slot.page.name)}</pagename>/enpproperty-->"
        )
        body = (
            f'{prop}\n<table class="wz" width="100%">\n'
            f'<tr><td class="font02">{escape(a.kicker)}</td></tr>\n'
            f'<tr><td class="font01">{escape(a.title)}</td></tr>\n'
            f'<tr><td class="font02">{escape(a.subtitle)}</td></tr>\n'
            f'<tr><td class="font03">{escape(a.author)}</td></tr>\n</table>\n'
            f'<div id="ozoom"><founder-content><!--enpcontent-->{paras}'
            "<!--/enpcontent--></founder-content></div>\n"
            f'<a href="{self.rel(slot.path, self.site.page_paths[ed.date][slot.page.no])}">'
            "返回版面</a>"
        )
        doc = html_doc(f"{a.title}-{self.site.name}", body, charset=CHARSET)
        # a misconfigured server: every other article is sent with a utf-8 header
        header = "text/html; charset=utf-8" if int(slot.id) % 2 else f"text/html; charset={CHARSET}"
        return Resource(encode(doc, CHARSET), header)

    def extra_routes(self):
        if not self.site.dates:
            return {}
        entry = f"{self.root}/paperindex.htm"
        target = self.rel(entry, self.site.url_for(self.site.dates[-1]))
        doc = html_doc(
            self.site.name, "", head=f'<meta http-equiv="refresh" content="0; URL={target}">\n'
        )
        return {entry: lambda host: Resource(doc.encode())}
