"""解放日报 (shobserver.com): a JSON API instead of pages.

Edition: staticsg/data/journal/YYYY-MM-DD/navi.json → pages with their article lists;
article: staticsg/data/journal/YYYY-MM-DD/{pnumber}/article/{id}.json with the body as
an HTML string and the images as a JSON string inside the JSON (`pincurls`). A page's
own URL is the reader app's view of it (`…/index.html?date=…&page=…`). The API lists
every article, so nothing here is hotspot-only. Traps carried: JSON in JSON, page
numbers as zero-padded strings, an ad page, a 404 date and a 301-to-root date.
"""

from __future__ import annotations

import json
from html import escape

from ..edition import Edition, Page
from ..site import Renderer, Resource, Slot, html_doc

JSON = "application/json; charset=utf-8"


class Jfdaily(Renderer):
    family = "jfdaily"
    has_hotspots = False

    @property
    def root(self) -> str:
        return f"/{self.site.paper}/staticsg"

    @property
    def edition_url_template(self) -> str:
        return f"{self.root}/data/journal/{{date:%Y-%m-%d}}/navi.json"

    def page_path(self, ed: Edition, page: Page) -> str:
        return f"{self.root}/res/html/journal/index.html?date={ed.date:%Y-%m-%d}&page={page.no:02d}"

    def article_path(self, slot: Slot) -> str:
        return (
            f"{self.root}/data/journal/{slot.edition.date:%Y-%m-%d}/{slot.page.no:02d}/"
            f"article/{slot.id}.json"
        )

    def pdf_path(self, ed: Edition, page: Page) -> str:
        return (
            f"{self.root}/res/journal/{ed.date:%Y%m%d}/{page.no:02d}/"
            f"{self.site.digest(ed.date, page.no)[:16]}.pdf"
        )

    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        # the reader app: a shell that fetches navi.json in the browser
        return Resource(
            html_doc(
                "上观新闻 解放日报",
                '<div id="app"></div><script src="../../js/journal.js"></script>',
            ).encode()
        )

    def navi(self, ed: Edition) -> Resource:
        pages = []
        for page in ed.pages:
            pages.append(
                {
                    "pname": page.name,
                    "pnumber": f"{page.no:02d}",
                    "imgurl": f"https://{self.site.paper}.example/img/{ed.date:%Y%m%d}/{page.no:02d}.jpg",
                    "pdfurl": self.site.pdf_paths[ed.date][page.no],
                    "articleList": [
                        {
                            "id": s.id,
                            "title": s.story.article.title,
                            "subtitle": s.story.article.subtitle,
                            "introtitle": s.story.article.kicker,
                            "author": s.story.article.author,
                        }
                        for s in self.slots_of(page)
                    ],
                }
            )
        return Resource(json.dumps({"pages": pages}, ensure_ascii=False).encode("utf-8"), JSON)

    def render_article(self, slot: Slot, host: str) -> Resource:
        a = slot.story.article
        images = [
            {
                "url": f"/{self.site.paper}/img/{slot.id}.jpg",
                "name": a.title,
                "author": "",
                "ttile": "",
            }
        ]
        doc = {
            "article": {
                "id": slot.id,
                "title": a.title,
                "introtitle": a.kicker,
                "subtitle": a.subtitle,
                "author": a.author,
                "content": "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs),
                "pincurls": json.dumps(images, ensure_ascii=False),
            }
        }
        return Resource(json.dumps(doc, ensure_ascii=False).encode("utf-8"), JSON)

    def extra_routes(self):
        return {
            self.site.url_for(d): lambda host, ed=ed: self.navi(ed)
            for d, ed in self.site.editions.items()
        }
