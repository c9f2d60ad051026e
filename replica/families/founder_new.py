"""Founder new ("pc/layout"): node_NN.html pages, content_N.html articles.

Skins (option `skin`): "swiper" (人民日报 since 2024-12), "chunkicon" (Chunkiconbox /
ScroLeft, 黑龙江 city papers), "layoutlist" (ul#layoutlist / PreTitle). Options:
`node` "01" | "1" | "A01" (lettered sections: page numbers repeat, A01 A02 B01 B02),
`content_dir` "content" | "con", `page_dir` "layout" | "column" (the pages' folder),
`link_loop` (a page list that grows without end), `thumb_pages` (swiper: the page list
shows thumbnails, no labels; only each article page prints its page's 版 label).
Traps carried: relative (../../../) and protocol-relative links, hotspot-only
articles, an ad page, period.xml calendars, a 404 date and a 301-to-root date, article
pages whose meta says gb2312 while the bytes and the HTTP header are UTF-8.

Variants (`variant=seed`, see `variants`), as public crawler code records real sites:
page and article lists of the swiper / news-list (人民日报), Chunkicon with or without
#ScroLeft (大连, 生活报), layoutlist with ul#articlelist (长春, 台州, 合肥), nav-list with
div.news-list li.resultList (甘肃日报 group), 湖北日报's div.news-list > ul > li > a and the
浙报 skin's div.main-ednav-nav dl dt a; node_01, node_1, node_A01 (lettered sections),
col01, n_01 pages under pc/layout or pc/column (常德日报); pc/content, con, c, col, cont
articles; PDF beside, inside or missing; relative, root-relative or absolute links.
"""

from __future__ import annotations

import re
from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, html_doc
from . import odd


class FounderNew(Renderer):
    family = "founder-new"
    default_options = {
        "skin": "swiper",
        "node": "01",
        "content_dir": "content",
        "page_dir": "layout",
    }
    variants = {
        "lists": (
            "swiper",
            "chunkicon",
            "chunkicon_bare",
            "articlelist",
            "navlist",
            "hubei",
            "ednav",
        ),
        "skin": ("swiper", "chunkicon", "layoutlist"),
        "node": ("01", "1", "A01", "col01", "n_01"),
        "content_dir": ("content", "con", "c", "col", "cont"),
        "pdf": ("beside", "inside", "none"),
        "links": ("relative", "root", "absolute"),
        # the folder of the pages: pc/layout, or pc/column (常德日报, bm_lyh changde_paper.py)
        "page_dir": ("layout", "column"),
    }

    @property
    def root(self) -> str:
        return f"/{self.site.paper}/pc"

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/{self.opt['page_dir']}/{{date:%Y%m/%d}}/{self.node_name(1)}.html"

    def node_name(self, no: int) -> str:
        style = self.opt["node"]
        if style == "A01":
            return f"node_{self.page_label_no(no)}"
        if style in ("col01", "n_01"):
            return f"{style[:-2]}{no:02d}"
        return f"node_{no:02d}" if style == "01" else f"node_{no}"

    def page_label_no(self, no: int) -> str:
        """What the page calls itself: "03", or "B01" in lettered editions."""
        if self.opt["node"] != "A01":
            return f"{no:02d}"
        half = (self.site.pages + 1) // 2
        return f"A{no:02d}" if no <= half else f"B{no - half:02d}"

    def page_path(self, ed: Edition, page: Page) -> str:
        return (
            f"{self.root}/{self.opt['page_dir']}/{ed.date:%Y%m/%d}/{self.node_name(page.no)}.html"
        )

    def article_path(self, slot: Slot) -> str:
        return (
            f"{self.root}/{self.opt['content_dir']}/{slot.edition.date:%Y%m/%d}/"
            f"content_{slot.id}.html"
        )

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/attachement/{ed.date:%Y%m/%d}/{self.site.uuid(ed.date, page.no)}.pdf"

    def image_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/pic/{ed.date:%Y%m/%d}/{page.no:02d}.jpg"

    def label(self, page: Page) -> str:
        no = self.page_label_no(page.no)
        skin = self.opt["skin"]
        if skin == "chunkicon":
            return f"第{no}版：{page.name}"
        if skin == "layoutlist":
            return f"第{no}版:{page.name}"
        return f"{no}版：{page.name}"

    def page_link_text(self, ed: Edition, page: Page, here: str) -> str:
        """A page list entry's label, or with `thumb_pages` the page's thumbnail only."""
        if not self.opt.get("thumb_pages"):
            return escape(self.label(page))
        return f'<img src="{self.rel(here, self.site.image_paths[ed.date][page.no])}" width="60">'

    # pages ------------------------------------------------------------------
    def render_variant_page(self, ed: Edition, page: Page, host: str) -> Resource:
        here = self.site.page_paths[ed.date][page.no]
        o = self.opt
        page_list, page_entry, article_list, article_entry = {
            "swiper": (
                '<div class="swiper-container"><div class="swiper-wrapper">{}</div></div>',
                '<div class="swiper-slide">{}</div>',
                '<ul class="news-list">{}</ul>',
                "<li>{}</li>",
            ),
            "chunkicon": (
                '<div class="Chunkiconbox"><div class="Chunkiconlist">{}</div></div>',
                "<p>{}</p>",
                '<div id="ScroLeft"><div class="newslist"><ul>{}</ul></div></div>',
                "<li><h3>{}</h3></li>",
            ),
            "chunkicon_bare": (
                '<div class="Chunkiconlist">{}</div>',
                "<p>{}</p>",
                '<div class="newslist"><ul>{}</ul></div>',
                "<li><h3>{}</h3></li>",
            ),
            "articlelist": (
                '<ul id="layoutlist">{}</ul>',
                '<li class="posRelative">{}</li>',
                '<ul id="articlelist">{}</ul>',
                '<li class="clearfix">{}</li>',
            ),
            "navlist": (
                '<div class="nav-list"><ul>{}</ul></div>',
                "<li>{}</li>",
                '<div class="news-list"><ul>{}</ul></div>',
                '<li class="resultList">{}</li>',
            ),
            "hubei": (
                '<div class="bmnav"><ul>{}</ul></div>',
                "<li>{}</li>",
                '<div class="news-list"><ul>{}</ul></div>',
                "<li>{}</li>",
            ),
            "ednav": (
                '<div class="main-ednav-nav"><dl>{}</dl></div>',
                "<dt>{}</dt>",
                '<ul class="main-ed-articlenav-list">{}</ul>',
                "<li>{}</li>",
            ),
        }[o["lists"]]
        btn = ' class="btn"' if o["lists"] == "navlist" else ""
        entries = []
        for p, path in self.pages_of(ed):
            link = f'<a{btn} href="{self.link(here, path, host)}">{escape(self.label(p))}</a>'
            pdf = f'<a href="{self.link(here, self.site.pdf_paths[ed.date][p.no], host)}">PDF</a>'
            if o["pdf"] == "inside":
                entries.append(page_entry.format(link + pdf))
            elif o["pdf"] == "beside" and page_entry.startswith("<dt>"):
                entries.append(page_entry.format(link) + f"<dd>{pdf}</dd>")
            elif o["pdf"] == "beside":
                entries.append(page_entry.format(f"{link} <span>{pdf}</span>"))
            else:
                entries.append(page_entry.format(link))
        titles = "\n".join(
            article_entry.format(
                f'<a href="{self.link(here, s.path, host)}">{escape(s.story.article.title)}</a>'
            )
            for s in self.slots_of(page)
            if not s.story.hidden
        )
        areas = "\n".join(
            f'<Area coords="{c}" shape="polygon" href="{h}">' for h, c in self.hotspots(page, here)
        )
        image = self.link(here, self.site.image_paths[ed.date][page.no], host)
        body = (
            page_list.format("\n".join(entries))
            + f'\n<div class="paper"><img src="{image}" usemap="#PagePicMap">\n'
            f'<MAP NAME="PagePicMap">\n{areas}\n</MAP></div>\n' + article_list.format(titles)
        )
        doc = html_doc(f"{self.site.name} - {self.label(page)}", body)
        return Resource(doc.encode("utf-8"))

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        if self.opt.get("variant") is not None:
            return self.render_variant_page(ed, page, host)
        here = self.site.page_paths[ed.date][page.no]
        pdf = self.site.pdf_paths[ed.date][page.no]
        slots = self.slots_of(page)
        listed = [s for s in slots if not s.story.hidden]
        entries = [
            (p, self.rel(here, path), self.rel(here, self.site.pdf_paths[ed.date][p.no]))
            for p, path in self.pages_of(ed)
        ]
        if self.opt.get("link_loop"):
            entries.append((Page(no=len(entries) + 1, name="专题"), "node_loop1.html", None))
        area_html = "\n".join(
            f'<Area coords="{c}" shape="polygon" href="{h}">'
            for h, c in odd.image_map(self.opt, self.hotspots(page, here))
        )
        img = (
            f'<img src="{self.rel(here, self.site.image_paths[ed.date][page.no])}" '
            'usemap="#PagePicMap">'
        )
        pic = f'<div class="paper">{img}\n<MAP NAME="PagePicMap">\n{area_html}\n</MAP></div>'
        titles = [(self.rel(here, s.path), s.story.article.title) for s in listed]
        skin = self.opt["skin"]
        if skin == "chunkicon":
            plist = "\n".join(
                odd.page_list(
                    self.opt,
                    [
                        f'<p><a href="{href}">{escape(self.label(p))}</a>'
                        + (
                            f'<a href="//{host}{self.site.pdf_paths[ed.date][p.no]}">'
                            '<img src="../../../img/pdf.gif"></a>'
                            if pdfh
                            else ""
                        )
                        + "</p>"
                        for p, href, pdfh in entries
                    ],
                    lambda h, t: f'<p><a href="{h}">{t}</a></p>',
                )
            )
            alist = "\n".join(
                odd.article_list(
                    self.opt,
                    [f'<li><h3><a href="{h}">{escape(t)}</a></h3></li>' for h, t in titles],
                    lambda h, t: f'<li><h3><a href="{h}">{t}</a></h3></li>',
                )
            )
            body = (
                '<div class="Chunkiconbox"><div class="Chunkiconlist">\n'
                f"{plist}\n</div></div>\n{pic}\n"
                f'<div id="ScroLeft"><div class="newslist"><ul>\n{alist}\n</ul></div></div>'
            )
        elif skin == "layoutlist":
            plist = "\n".join(
                odd.page_list(
                    self.opt,
                    [
                        f'<li><a href="{href}">{escape(self.label(p))}</a>'
                        + (f' <a class="pdf" href="{pdfh}">PDF</a>' if pdfh else "")
                        + "</li>"
                        for p, href, pdfh in entries
                    ],
                    lambda h, t: f'<li><a href="{h}">{t}</a></li>',
                )
            )
            alist = "\n".join(
                odd.article_list(
                    self.opt,
                    [f'<li><a href="{h}"><div>{escape(t)}</div></a></li>' for h, t in titles],
                    lambda h, t: f'<li><a href="{h}"><div>{t}</div></a></li>',
                )
            )
            body = (
                f'<ul id="layoutlist">\n{plist}\n</ul>\n{pic}\n'
                f'<div id="titleList"><ul>\n{alist}\n</ul></div>'
            )
        else:
            plist = "\n".join(
                odd.page_list(
                    self.opt,
                    [
                        f'<div class="swiper-slide"><a href="{href}" id="pageLink">'
                        f"{self.page_link_text(ed, p, here)}</a></div>"
                        for p, href, _ in entries
                    ],
                    lambda h, t: f'<div class="swiper-slide"><a href="{h}">{t}</a></div>',
                )
            )
            alist = "\n".join(
                odd.article_list(
                    self.opt,
                    [f'<li><a href="{h}">{escape(t)}</a></li>' for h, t in titles],
                    lambda h, t: f'<li><a href="{h}">{t}</a></li>',
                )
            )
            thumbs = self.opt.get("thumb_pages")
            body = (
                '<div class="swiper-container"><div class="swiper-wrapper">\n'
                f"{plist}\n</div></div>\n"
                + ("" if thumbs else f'<p class="left ban">第{escape(self.label(page))}</p>\n')
                + f'<p class="right btn"><a href="{self.rel(here, pdf)}">PDF下载</a></p>\n'
                f'{pic}\n<div class="news"><ul class="news-list">\n{alist}\n</ul></div>'
            )
        doc = html_doc(f"{self.site.name} - {self.label(page)}", body)
        return Resource(doc.encode("utf-8"))

    # articles ---------------------------------------------------------------
    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        paras = "\n".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        skin = self.opt["skin"]
        if skin == "chunkicon":
            body = (
                f'<div class="newsdetail"><div class="intro">{escape(a.kicker)}</div>\n'
                f'<div class="newsdetatit"><h3>{escape(a.title)}</h3></div>\n'
                f'<div class="sub">{escape(a.subtitle)}</div>\n'
                f'<div class="author">{escape(a.author)}</div>\n'
                '<div class="newsdetatext"><founder-content>\n'
                f"{paras}\n</founder-content></div></div>"
            )
        elif skin == "layoutlist":
            body = (
                f'<div class="newsdetail"><p id="PreTitle">{escape(a.kicker)}</p>\n'
                f'<h2 id="Title">{escape(a.title)}</h2>\n'
                f'<p id="SubTitle">{escape(a.subtitle)}</p>\n'
                f'<p id="Author">{escape(a.author)}</p>\n'
                f'<div id="ozoom"><founder-content>\n{paras}\n</founder-content></div>\n'
                f'<div class="attachment"></div></div>'
            )
        else:
            body = (
                f'<div class="article"><h3>{escape(a.kicker)}</h3>\n<h1>{escape(a.title)}</h1>\n'
                f"<h2>{escape(a.subtitle)}</h2>\n"
                f'<p class="sec">{escape("作者：" + a.author if a.author else "")}</p>\n'
                f'<div id="ozoom">\n{paras}\n</div></div>'
            )
            if self.opt.get("thumb_pages"):  # the page's label, where only the article has it
                body += f'\n<p class="ban">{escape(self.label(slot.page))}</p>'

        # 北京日报's trap: the meta tag says gb2312, the bytes and the header are UTF-8
        doc = html_doc(f"{a.title} - {self.site.name}", body, charset="gb2312")
        return Resource(doc.encode("utf-8"))

    # calendar, entry, loop ----------------------------------------------------
    def extra_routes(self):
        routes = {}
        months = sorted({d.strftime("%Y%m") for d in self.site.dates})
        for month in months:
            routes[f"{self.root}/layout/{month}/period.xml"] = lambda host, m=month: self.period(m)
        if self.site.dates:
            latest = self.site.url_for(self.site.dates[-1])
            routes[f"{self.root}/layout/index.html"] = lambda host: Resource(
                html_doc(
                    self.site.name,
                    "",
                    head=(
                        '<meta http-equiv="refresh" content="0; '
                        f'url={self.rel(f"{self.root}/layout/index.html", latest)}">\n'
                    ),
                ).encode()
            )
        return routes

    def dynamic(self, path: str, host: str) -> Resource | None:
        # a CMS bug: each "专题" page links one page further, without end
        m = re.fullmatch(rf"{self.root}/layout/\d{{6}}/\d\d/node_loop(\d+)\.html", path)
        if not (m and self.opt.get("link_loop")):
            return None
        n = int(m.group(1))
        link = (
            f'<div class="swiper-slide"><a href="node_loop{n + 1}.html" id="pageLink">'
            f"{n + 100}版：专题</a></div>"
        )
        plist = {
            "chunkicon": (
                f'<div class="Chunkiconlist"><p><a href="node_loop{n + 1}.html">'
                f"第{n + 100}版：专题</a></p></div>"
            ),
            "layoutlist": (
                f'<ul id="layoutlist"><li><a href="node_loop{n + 1}.html">'
                f"第{n + 100}版:专题</a></li></ul>"
            ),
        }
        return Resource(html_doc("专题", plist.get(self.opt["skin"], link)).encode())

    def period(self, month: str) -> Resource:
        items = "".join(
            f'<period id="{d:%Y%m%d}"><paper_name>{escape(self.site.name)}</paper_name>'
            f"<period_name>{d:%Y年%m月%d日}</period_name><period_date>{d:%Y-%m-%d}</period_date>"
            f"<front_page>{self.page_label_no(1)}</front_page></period>\n"
            for d in self.site.dates
            if d.strftime("%Y%m") == month
        )
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<root>\n{items}</root>\n'
        return Resource(xml.encode("utf-8"), "application/xml; charset=utf-8")
