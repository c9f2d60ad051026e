"""Page PDFs: small real PDFs carrying the page's Chinese text.

reportlab's built-in CID font STSong-Light needs no font file and keeps the text
extractable (pdfplumber/pdfminer map it back through the UniGB-UCS2-H CMap).

Hostile page PDFs, for the fault tests: `inflating_pdf` is one page whose content
stream is small on the wire and huge once inflated (FlateDecode, as real pages are).
"""

from __future__ import annotations

import io
import textwrap
import zlib
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


@lru_cache(maxsize=4)
def inflating_pdf(inflated: int, byte: bytes = b"\0") -> bytes:
    """A valid one-page PDF whose content stream inflates to `inflated` bytes of `byte`
    (NUL: whitespace to a PDF parser, which reads it all). 10**9 bytes are 0.97 MB
    on the wire: a decompression bomb; 64 MiB, 64 KiB: a minute's parse in little memory."""
    stream = _deflate_repeated(byte * (1 << 20), inflated)
    return _pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(stream), stream),
        ]
    )


def _pdf_file(objects: list[bytes]) -> bytes:
    """Objects 1.. as a PDF file with its cross-reference table; object 1 is the catalog."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _deflate_repeated(chunk: bytes, size: int) -> bytes:
    """zlib data of `size` bytes of `chunk` repeated, in a fraction of deflating it all: after
    a full flush a chunk's compressed block no longer depends on what came before, so the
    second block stands for every later one."""
    z = zlib.compressobj(9, wbits=-15)  # raw deflate; the zlib header and checksum are ours
    whole, rest = divmod(size, len(chunk))
    blocks = [z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH) for _ in range(min(whole, 2))]
    blocks += blocks[-1:] * (whole - len(blocks))
    checksum = 1
    for _ in range(whole):
        checksum = zlib.adler32(chunk, checksum)
    checksum = zlib.adler32(chunk[:rest], checksum)
    tail = z.compress(chunk[:rest]) + z.flush()
    return b"\x78\xda" + b"".join(blocks) + tail + checksum.to_bytes(4, "big")
