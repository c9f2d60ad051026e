"""PaperIndex: content/YYYYMMDD/PageNNxx.htm pages, ArticelNNKKKxx.htm articles.

The sites' own spelling ("Articel") and suffix letters that vary by page. Traps
carried: hotspot-only articles, an ad page, the content/PaperIndex.htm entry that
meta-refreshes to the latest edition, a 404 date and a 301-to-root date, and GBK
pages that declare no charset at all.

Variants (`variant=seed`, see `variants`), as public crawler code records real sites:
`a.atitle` for both page and article links (法治日报), `a.18` pages and `a.14` articles
(伊犁日报), `ul.gebanlist li a` pages with articles in `div#mylink a` whose target is in
`alt` (潍坊晚报), `div.leftmenu ul li a` pages (桂林日报); the PDF beside the page link,
in its entry or missing; relative, root-relative or absolute links; "第01版：", "01版：".
"""

from __future__ import annotations

import random
from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, encode, html_doc
from . import odd

SUFFIXES = ("HO", "BB", "TB", "KB", "AB")


class PaperIndex(Renderer):
    family = "paperindex"
    variants = {
        "page_list": ("pagelist", "atitle", "a18", "gebanlist", "leftmenu"),
        "article_list": ("atitle", "a14", "mylink"),
        "pdf": ("beside", "inside", "none"),
        "links": ("relative", "root", "absolute"),
        "label": ("第{no:02d}版：{name}", "{no:02d}版：{name}", "第{no:02d}版:{name}"),
    }

    @property
    def root(self) -> str:
        return f"/{self.site.paper}/content"

    def suffix(self, ed: Edition, page: Page) -> str:
        return (
            "HO"
            if page.no == 1
            else random.Random(f"sfx:{self.site.paper}:{ed.date}:{page.no}").choice(SUFFIXES[1:])
        )

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/{{date:%Y%m%d}}/Page01HO.htm"

    def page_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/{ed.date:%Y%m%d}/Page{page.no:02d}{self.suffix(ed, page)}.htm"

    def article_ids(self, ed: Edition) -> list[str]:
        # numbered within the page, in print order: Articel04002BB = page 4, story 2
        return [
            f"{p.no:02d}{k:03d}{self.suffix(ed, p)}"
            for p in ed.pages
            for k in range(1, len(p.stories) + 1)
        ]

    def article_path(self, slot: Slot) -> str:
        return f"{self.root}/{slot.edition.date:%Y%m%d}/Articel{slot.id}.htm"

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"/{self.site.paper}/page/{ed.date:%Y%m%d}/{page.no:02d}/"
            f"{self.site.digest(ed.date, page.no)[:10]}.pdf"
        )

    def image_path(self, ed: Edition, page: Page) -> str:
        return f"/{self.site.paper}/page/{ed.date:%Y%m%d}/{page.no:02d}/p.jpg"

    def label(self, page: Page) -> str:
        return self.opt.get("label", "第{no:02d}版：{name}").format(no=page.no, name=page.name)

    @staticmethod
    def send(body: str, title: str) -> Resource:
        # GBK bytes, and no charset in the header or the page: clients must guess
        doc = html_doc(title, body).replace(
            '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n', ""
        )
        return Resource(encode(doc, "gbk"), "text/html")

    def render_variant_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        o = self.opt
        page_attr = {"atitle": ' class="atitle"', "a18": ' class="18"'}.get(o["page_list"], "")

        def entry(p: Page, path: str) -> str:
            link = f'<a{page_attr} href="{self.link(here, path, host)}">{escape(self.label(p))}</a>'
            pdf = f'<a href="{self.link(here, self.site.pdf_paths[ed.date][p.no], host)}">PDF</a>'
            if o["page_list"] in ("gebanlist", "leftmenu"):
                inner, outer = "<li>{}</li>", "<li>{}</li>"
            else:
                inner, outer = "<tr><td>{}</td>", "<td>{}</td></tr>"
            if o["pdf"] == "beside":
                return inner.format(link) + outer.format(pdf)
            closing = "</tr>" if inner.startswith("<tr>") else ""
            return inner.format(link + (pdf if o["pdf"] == "inside" else "")) + closing

        rows = "\n".join(entry(p, path) for p, path in self.pages_of(ed))
        pages = {
            "gebanlist": f'<ul class="gebanlist">\n{rows}\n</ul>',
            "leftmenu": f'<div class="leftmenu"><ul>\n{rows}\n</ul></div>',
        }.get(o["page_list"], f"<table>\n{rows}\n</table>")
        listed = [s for s in self.slots_of(page) if not s.story.hidden]

        def article(s) -> str:
            href, title = self.link(here, s.path, host), escape(s.story.article.title)
            if o["article_list"] == "mylink":
                return f'<a href="javascript:void(0)" alt="{href}">{title}</a><br>'
            cls = "atitle" if o["article_list"] == "atitle" else "14"
            return f'<tr><td><a class="{cls}" href="{href}">{title}</a></td></tr>'

        items = "\n".join(article(s) for s in listed)
        if o["article_list"] == "mylink":
            items = f'<div id="mylink">\n{items}\n</div>'
        else:
            items = f"<table>\n{items}\n</table>"
        areas = "\n".join(
            f'<area shape="poly" coords="{c}" href="{h}">' for h, c in self.hotspots(page, here)
        )
        body = (
            '<table id="table5"><tr><td class="px12">'
            f"{escape(self.label(page))}</td></tr></table>\n{pages}\n"
            f'<img src="{self.link(here, self.site.image_paths[ed.date][page.no], host)}" '
            'usemap="#Map" border="0">\n'
            f'<map name="Map">\n{areas}\n</map>\n{items}'
        )
        return self.send(body, f"{self.site.name}{self.label(page)}")

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        if self.opt.get("variant") is not None:
            return self.render_variant_page(ed, page, host)
        here = self.site.page_paths[ed.date][page.no]
        rows = "\n".join(
            odd.page_list(
                self.opt,
                [
                    f'<tr><td><a href="{self.rel(here, path)}" class="rigth_bmdh_href">'
                    f"{escape(self.label(p))}</a></td>"
                    f'<td><a href="{self.rel(here, self.site.pdf_paths[ed.date][p.no])}" '
                    'target="_blank">PDF</a></td></tr>'
                    for p, path in self.pages_of(ed)
                ],
                lambda href, text: (
                    f'<tr><td><a href="{href}" class="rigth_bmdh_href">{text}</a></td></tr>'
                ),
            )
        )
        slots = self.slots_of(page)
        areas = "\n".join(
            f'<area shape="poly" coords="{c}" href="{h}">'
            for h, c in odd.image_map(self.opt, self.hotspots(page, here))
        )
        titles = "\n".join(
            odd.article_list(
                self.opt,
                [
                    '<tr><td><img src="../../image/dot.gif">'
                    f'<a class="atitle" href="{self.rel(here, s.path)}">'
                    f"{escape(s.story.article.title)}</a></td></tr>"
                    for s in slots
                    if not s.story.hidden
                ],
                lambda href, text: f'<tr><td><a class="atitle" href="{href}">{text}</a></td></tr>',
            )
        )
        body = (
            '<table id="table5"><tr><td class="px12">'
            f"{escape(self.label(page))}</td></tr></table>\n"
            f'<table id="pagelist">\n{rows}\n</table>\n'
            f'<img src="{self.rel(here, self.site.image_paths[ed.date][page.no])}" '
            'usemap="#Map" border="0">\n'
            f'<map name="Map">\n{areas}\n</map>\n<table id="titlelist">\n{titles}\n</table>'
        )
        return self.send(body, f"{self.site.name}{self.label(page)}")

    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        paras = "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        body = (
            '<table id="table5"><tr><td class="px12">'
            f"{escape(self.label(slot.page))}</td></tr></table>\n"
            f'<span id="contenttext"><div class="yinti">{escape(a.kicker)}</div>\n'
            f"<div><strong>{escape(a.title)}</strong></div>\n"
            f'<div class="futi">{escape(a.subtitle)}</div>\n'
            f'<div class="zuozhe">{escape(a.author)}</div>\n'
            f'<div id="ozoom">{paras}</div></span>'
        )
        return self.send(body, a.title)

    def extra_routes(self):
        if not self.site.dates:
            return {}
        entry = f"{self.root}/PaperIndex.htm"
        target = self.rel(entry, self.site.url_for(self.site.dates[-1]))
        doc = html_doc(
            self.site.name, "", head=f'<meta http-equiv="refresh" content="0; URL={target}">\n'
        )
        return {entry: lambda host: Resource(doc.encode())}
