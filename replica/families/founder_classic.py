"""Founder classic: html/YYYY-MM/DD/node_N.htm pages, content_N.htm articles.

Traps carried: node ids that are not page numbers and not sequential (the front page
keeps its id, the others are handed out anew each day), hotspot-only articles, a
masthead (报头) pseudo-article, an ad page, GBK bytes under a gb2312 label, article
pages whose HTTP header says utf-8 while the bytes and the meta tag are GBK, PDFs
linked ../../../images/…, the paperindex.htm entry that meta-refreshes to the latest
edition, a 404 date and a 301-to-root date.

Variants (`variant=seed`, see `variants`), as public crawler code records real classic
sites: page lists in table#bmdhTable, in bare td.default cells (the class the article
cells share), ul.layout-catalogue-list (河南日报) or div.main-ednav-nav dl dt (浙报 skin);
article lists in #main-ed-articlenav-list td.default div, tr.wzlb_tr td.default div
(沈阳晚报), ul.main-ed-articlenav-list or <div id="content_N_M"> (海南日报); the PDF
beside the page link, in its cell or missing; relative, root-relative or absolute links;
content_N.htm or content_N_M.htm articles.
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
    variants = {
        "page_list": ("bmdh", "td_default", "catalogue", "ednav"),
        "article_list": ("plain", "navlist_default", "wzlb", "ul", "div_id"),
        "pdf": ("beside", "inside", "none"),
        "links": ("relative", "root", "absolute"),
        "content": ("N", "N_M"),
    }

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
        tail = f"_{slot.page.no}" if self.opt.get("content") == "N_M" else ""
        return f"{self.root}/{slot.edition.date:%Y-%m/%d}/content_{slot.id}{tail}.htm"

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"/{self.site.paper}/images/{ed.date:%Y-%m/%d}/{page.no:02d}/"
            f"{self.site.digest(ed.date, page.no)[:12]}.pdf"
        )

    def image_path(self, ed: Edition, page: Page) -> str:
        return f"/{self.site.paper}/images/{ed.date:%Y-%m/%d}/{page.no:02d}/p.jpg"

    @staticmethod
    def label(page: Page) -> str:
        return f"第{page.no:02d}版：{page.name}"

    def variant_lists(self, ed: Edition, page: Page, host: str) -> tuple[str, str]:
        """The page list and the article list of a variant site."""
        here = self.site.page_paths[ed.date][page.no]
        o = self.opt

        def page_entry(p: Page, path: str, inner: str, outer: str) -> str:
            link = (
                f'<a id="pageLink" href="{self.link(here, path, host)}">{escape(self.label(p))}</a>'
            )
            pdf = (
                f'<a href="{self.link(here, self.site.pdf_paths[ed.date][p.no], host)}">'
                '<img src="/img/pdf.gif" border="0"></a>'
            )
            if o["pdf"] == "none":
                return inner.format(link)
            if o["pdf"] == "inside":
                return inner.format(link + pdf)
            return inner.format(link) + outer.format(pdf)

        shapes = {
            "bmdh": (
                '<table id="bmdhTable">',
                "</table>",
                '<tr><td class="default">{}</td>',
                "<td>{}</td></tr>",
            ),
            "td_default": (
                "<table>",
                "</table>",
                '<tr><td class="default">{}</td>',
                '<td class="default">{}</td></tr>',
            ),
            "catalogue": ('<ul class="layout-catalogue-list">', "</ul>", "<li>{}", " {}</li>"),
            "ednav": (
                '<div class="main-ednav-nav"><dl>',
                "</dl></div>",
                "<dt>{}</dt>",
                "<dd>{}</dd>",
            ),
        }
        head, tail, inner, outer = shapes[o["page_list"]]
        if o["pdf"] != "beside":  # the entry closes itself
            inner += {"bmdh": "</tr>", "td_default": "</tr>", "catalogue": "</li>"}.get(
                o["page_list"], ""
            )
        pages = "\n".join(page_entry(p, path, inner, outer) for p, path in self.pages_of(ed))
        listed = [s for s in self.slots_of(page) if not s.story.hidden]

        def a(s) -> str:
            return f'<a href="{self.link(here, s.path, host)}">{escape(s.story.article.title)}</a>'

        articles = {
            "plain": lambda: (
                '<table id="main-ed-articlenav-list">'
                + "".join(f'<tr><td><div id="mp{s.id}">{a(s)}</div></td></tr>' for s in listed)
                + "</table>"
            ),
            "navlist_default": lambda: (
                '<table id="main-ed-articlenav-list">'
                + "".join(f'<tr><td class="default"><div>{a(s)}</div></td></tr>' for s in listed)
                + "</table>"
            ),
            "wzlb": lambda: (
                "<table>"
                + "".join(
                    f'<tr class="wzlb_tr"><td class="default"><div>{a(s)}</div></td></tr>'
                    for s in listed
                )
                + "</table>"
            ),
            "ul": lambda: (
                '<ul class="main-ed-articlenav-list">'
                + "".join(f"<li>{a(s)}</li>" for s in listed)
                + "</ul>"
            ),
            "div_id": lambda: "".join(
                f'<div id="{s.path.rsplit("/", 1)[-1][:-4]}">{a(s)}</div>' for s in listed
            ),
        }[o["article_list"]]()
        return f"{head}\n{pages}\n{tail}", articles

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        if self.opt.get("variant") is not None:
            return self.render_variant_page(ed, page, host)
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
            f'<img src="{self.rel(here, self.site.image_paths[ed.date][page.no])}" '
            'usemap="#PagePicMap" border="0">\n'
            f'<map name="PagePicMap">\n{area_html}\n</map>\n'
            f'<table id="main-ed-articlenav-list">\n{items}\n</table>'
        )
        # the page declares its charset only in the meta tag
        doc = html_doc(f"{self.site.name}-{self.label(page)}", body, charset=CHARSET)
        return Resource(encode(doc, CHARSET), "text/html")

    def render_variant_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        pages, articles = self.variant_lists(ed, page, host)
        areas = "\n".join(
            f'<area shape="polygon" coords="{c}" href="{h}">' for h, c in self.hotspots(page, here)
        )
        body = (
            f'{pages}\n<img src="{self.link(here, self.site.image_paths[ed.date][page.no], host)}" '
            'usemap="#PagePicMap" border="0">\n'
            f'<map name="PagePicMap">\n{areas}\n</map>\n{articles}'
        )
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
