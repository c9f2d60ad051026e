"""page_text on newspaper-like PDFs with real Chinese text in an embedded CJK font.

The pages are typeset here with reportlab: a headline band over three columns,
paragraphs indented by two characters, lines broken wherever the column ends
(mid-sentence, mid-number), and paragraphs running on from one column into the
next, as on a printed page.
"""

import importlib.util
import io
import re
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from replica import build_site
from text.cjk import paragraphs
from text.pdftext import page_text

# The seed pages as bundled with the replica (a copy of shared/seeds/).
SEEDS = files("replica") / "data"
FONT = "CJK"
HEADLINE = "全力打造人工智能发展试验田孵化器"


def _font_file() -> Path | None:
    # A TrueType-outline CJK font: the PyPI package first (what a fresh machine
    # gets from pip), then Debian's fonts-wqy-microhei / fonts-wqy-zenhei.
    spec = importlib.util.find_spec("paperang_p2_fonts_cjk")
    candidates = [Path(spec.origin).parent / "fonts" / "wqy-microhei.ttc"] if spec else []
    candidates += [
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    ]
    return next((p for p in candidates if p.exists()), None)


@pytest.fixture(scope="module")
def cjk_font():
    path = _font_file()
    if path is None:
        pytest.skip(
            "no CJK TrueType font: pip install paperang-p2-fonts-cjk "
            "(or apt-get install fonts-wqy-microhei)"
        )
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))


def _wrap(text: str, width: float, size: float, indent: float) -> list[str]:
    """Break at the column edge anywhere in CJK text, but never inside a Latin
    word (a typesetter hyphenates or moves it)."""
    tokens = re.findall(r"[A-Za-z]+|.", text)
    lines, cur, avail = [], "", width - indent
    for tok in tokens:
        if cur and pdfmetrics.stringWidth(cur + tok, FONT, size) > avail:
            lines.append(cur.rstrip(" "))
            cur, avail = tok.lstrip(" "), width
        else:
            cur += tok
    return lines + [cur]


def typeset(pages: list[list[str]], cols=3, size=9.0, glyph_indent=False) -> bytes:
    """A4 pages: the headline, then paragraphs flowing down three columns."""
    width, height, margin, gap = 595, 842, 36, 1.5 * size
    colw = (width - 2 * margin - (cols - 1) * gap) / cols
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(width, height))
    for paras in pages:
        c.setFont(FONT, 22)
        c.drawString(margin, height - 50, HEADLINE)
        c.setFont(FONT, size)
        top = height - 80
        col, y = 0, top
        for para in paras:
            # Indentation as the two full-width spaces a CMS stores, or as a shift.
            text, indent = ("\u3000\u3000" + para, 0) if glyph_indent else (para, 2 * size)
            for i, line in enumerate(_wrap(text, colw, size, indent)):
                c.drawString(margin + col * (colw + gap) + (indent if i == 0 else 0), y, line)
                y -= 1.45 * size
                if y < margin:
                    col, y = col + 1, top
                    assert col < cols, "test text overflows the page"
        c.showPage()
    c.save()
    return out.getvalue()


def _seed_paragraphs(name: str, chars: int = 2600) -> list[str]:
    """Leading paragraphs of a seed page, about one page's worth."""
    out, total = [], 0
    for p in paragraphs((SEEDS / name).read_text(encoding="utf-8")):
        if total + len(p) > chars:
            break
        out.append(p)
        total += len(p)
    return out


@pytest.mark.parametrize("seed", ["000_45b1b8c7243f28f5.txt", "004_6a8051309f74110b.txt"])
def test_columns_become_paragraphs(seed, cjk_font):
    paras = _seed_paragraphs(seed)
    pdf = typeset([paras])
    assert b"FontFile2" in pdf, "the CJK font must be embedded"
    assert page_text(pdf) == "".join(p + "\n" for p in [HEADLINE] + paras)


def test_paragraph_runs_on_across_columns(cjk_font):
    seed = _seed_paragraphs("004_6a8051309f74110b.txt")
    # A column holds about 1,000 characters: the middle paragraph must cross a
    # column foot (and the first column ends mid-sentence) yet come out whole.
    paras = [seed[0], "".join(seed[1:])[:1500] + "。", seed[-1]]
    assert page_text(typeset([paras])).splitlines() == [HEADLINE] + paras


def test_indent_as_fullwidth_glyphs_and_latin_words(cjk_font):
    paras = [
        "在打造AI大模型服务底座方面，普陀部署了Deepseek等多款国产开源大模型，"
        "搭建了各类配套基础设施，形成了从模型调用、算力支持到知识库管理全链条服务供给。" * 3,
        "上海“量子城市”首批先导应用场景落地曹杨，6大板块20项服务满足诸多需求。",
    ]
    assert page_text(typeset([paras], glyph_indent=True)).splitlines() == [HEADLINE] + paras


def test_pages_in_order(cjk_font):
    a = _seed_paragraphs("000_45b1b8c7243f28f5.txt", 800)
    b = _seed_paragraphs("004_6a8051309f74110b.txt", 800)
    assert page_text(typeset([a, b])).splitlines() == [HEADLINE, *a, HEADLINE, *b]


def test_not_a_pdf_gives_empty_text():
    assert page_text(b"<html>404</html>") == ""


def test_replica_page_pdf():
    # The replica's PDFs set headlines in body type, one column: they must still
    # stand as lines of their own, ahead of their stories.
    site = build_site("founder-new", "bcrb", [date(2025, 4, 29)])
    edition = site.editions[date(2025, 4, 29)]
    for page in edition.pages[:3]:
        lines = page_text(
            site.resolve(site.pdf_paths[edition.date][page.no], "h").body
        ).splitlines()
        assert lines[0] == f"白城日报  2025年04月29日  第{page.no:02d}版：{page.name}".replace(
            "  ", " "
        )
        for story in page.stories:
            heads = [
                x for x in (story.article.kicker, story.article.title, story.article.subtitle) if x
            ]
            assert all(h in lines for h in heads), (heads, lines)
            assert any(line.startswith(story.article.paragraphs[0][:12]) for line in lines)
