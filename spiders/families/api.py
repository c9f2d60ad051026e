"""The walk of an edition served as JSON (papers.family.ApiWalk): 解放日报's reader app.

The index lists the pages, each with its PDF and its articles; an article is one JSON."""

from __future__ import annotations

from .base import EditionSpider, PageRef, number_pages


class ApiEditionSpider(EditionSpider):
    def parse_page(self, response):
        pages = response.json().get("pages", [])
        refs = [
            PageRef(
                response.urljoin(self.walk.page_view.format(date=self.date, pnumber=p["pnumber"])),
                f"{p['pnumber']}版：{p.get('pname', '')}",
                p.get("pdfurl"),
            )
            for p in pages
        ]
        number_pages(refs)
        for ref, page in zip(refs, pages):
            kind = "ad" if "广告" in ref.name else "news"
            yield {
                "type": "page",
                "paper": self.paper,
                "date": self.date,
                "page_no": ref.no,
                "page_name": ref.name,
                "url": ref.url,
                "pdf_url": response.urljoin(ref.pdf) if ref.pdf else None,
                "kind": kind,
            }
            where = {"page_no": ref.no, "page_name": ref.name, "page_kind": kind}
            for art in page.get("articleList", []):
                json_path = self.walk.article_json.format(pnumber=page["pnumber"], id=art["id"])
                url = response.urljoin(json_path)
                if request := self.article_request(url, where, "list", art.get("title", "")):
                    yield request

    def headline(self, response) -> str | None:
        return None  # an article's title is in the index (its list title), not in CSS
