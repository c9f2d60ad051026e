"""解放日报 (shobserver.com): the edition is a JSON API, not pages."""

from .base import EditionSpider, PageRef, number_pages


class JfdailySpider(EditionSpider):
    name = "jfdaily"
    # relative to navi.json: the reader app's view of a page, and an article's JSON
    page_view = "../../../res/html/journal/index.html?date={date}&page={pnumber}"
    article_json = "{pnumber}/article/{id}.json"

    def parse_page(self, response):
        pages = response.json().get("pages", [])
        refs = [PageRef(response.urljoin(self.page_view.format(date=self.date, pnumber=p["pnumber"])),
                        f"{p['pnumber']}版：{p.get('pname', '')}", p.get("pdfurl")) for p in pages]
        number_pages(refs)
        for ref, page in zip(refs, pages):
            kind = "ad" if "广告" in ref.name else "news"
            yield {
                "type": "page", "paper": self.paper, "date": self.date, "page_no": ref.no,
                "page_name": ref.name, "url": ref.url,
                "pdf_url": response.urljoin(ref.pdf) if ref.pdf else None, "kind": kind,
            }
            where = {"page_no": ref.no, "page_name": ref.name, "page_kind": kind}
            for art in page.get("articleList", []):
                url = response.urljoin(self.article_json.format(pnumber=page["pnumber"], id=art["id"]))
                yield self.article_request(url, where, "list", art.get("title", ""))
