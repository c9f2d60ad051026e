"""Page PDFs: small real PDFs carrying the page's Chinese text.

reportlab's built-in CID font STSong-Light needs no font file and keeps the text
extractable (pdfplumber/pdfminer map it back through the UniGB-UCS2-H CMap).
"""

from __future__ import annotations

import io
import textwrap
from datetime import date
from functools import lru_cache

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from .edition import Page

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def page_pdf(paper_name: str, day: date, page: Page) -> bytes:
    lines = [f"{paper_name}  {day:%Y年%m月%d日}  第{page.no:02d}版：{page.name}", ""]
    for story in page.stories:
        a = story.article
        lines += [x for x in (a.kicker, a.title, a.subtitle) if x]
        for p in a.paragraphs[:2]:
            lines += textwrap.wrap(p, 36)
        lines.append("")
    return _render(tuple(lines))


@lru_cache(maxsize=256)
def _render(lines: tuple[str, ...]) -> bytes:
    buf = io.BytesIO()
    # invariant=1: no timestamps or random ids, so the same page gives the same bytes
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    height = A4[1]
    y = height - 50
    for line in lines:
        if y < 50:
            c.showPage()
            y = height - 50
        c.setFont(FONT, 11)
        c.drawString(40, y, line)
        y -= 16
    c.showPage()
    c.save()
    return buf.getvalue()
