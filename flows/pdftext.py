"""Text of an archived page PDF, with CJK paragraphs repaired.

pdfplumber (on pdfminer.six) finds the text lines of a page. A newspaper page
sets text in narrow columns: lines break mid-sentence, and a paragraph runs on
from the foot of one column to the head of the next. What marks a paragraph is
geometry: its first line is indented, its last line stops short of the column's
right edge. So lines are grouped into column blocks, the blocks put in reading
order by recursive XY-cut (headline band above, then columns left to right), and
lines joined into paragraphs with flows.cjk's rule (no space inside CJK).
"""

import io
import logging
from dataclasses import dataclass
from statistics import median

import pdfplumber
from pdfminer.layout import LTTextContainer, LTTextLineHorizontal
from pdfminer.psexceptions import PSException
from pdfplumber.utils.exceptions import PdfminerException

from flows.cjk import clean_line, ends_sentence, is_indented, join_lines

log = logging.getLogger(__name__)

# Column gaps on newspaper pages are one to two character widths, so characters
# belong to one line only when (nearly) adjacent; CJK has no word gaps, so a space
# is inferred only for a visible gap of a third of a character or more. Box
# ordering is ours (XY-cut), so pdfminer's own (boxes_flow) is switched off.
LAPARAMS = {"char_margin": 1.0, "word_margin": 0.3, "line_margin": 0.5, "boxes_flow": None}
# In units of the type size: an indent of half a character opens a paragraph; a
# line ending more than one character short of the column edge closes one (up to
# four if it ends mid-sentence); lines further apart than one line height belong
# to different blocks.
INDENT = 0.5
SHORT = 1.0
NEAR = 4.0
LINE_GAP = 1.0


@dataclass
class _Line:
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    raw: str


class _Block:
    """Lines of one column block, top to bottom, with the block's x extent."""

    def __init__(self, first: _Line):
        self.lines = [first]
        self.x0, self.x1 = first.x0, first.x1

    def add(self, ln: _Line) -> None:
        self.lines.append(ln)
        self.x0, self.x1 = min(self.x0, ln.x0), max(self.x1, ln.x1)

    @property
    def bbox(self):
        return (self.x0, self.lines[-1].y0, self.x1, self.lines[0].y1)

    @property
    def size(self) -> float:
        return median(ln.size for ln in self.lines)


def page_text(pdf_bytes: bytes) -> str:
    """All text of a PDF, one paragraph a line, pages in order. A file that is
    not a readable PDF gives "" (logged): a bad page must not fail the edition."""
    paras: list[str] = []
    try:
        with pdfplumber.open(io.BytesIO(pdf_bytes), laparams=LAPARAMS) as pdf:
            for page in pdf.pages:
                paras.extend(_paragraphs(_xy_cut(_blocks(_lines(page.layout)))))
                page.flush_cache()  # keep memory flat on 100-page editions
    except (PdfminerException, PSException) as exc:
        log.warning("page PDF unreadable, no text extracted: %s", exc)
        return ""
    return "".join(p + "\n" for p in paras)


def _lines(layout) -> list[_Line]:
    out = []
    for box in layout:
        if not isinstance(box, LTTextContainer):
            continue
        for ln in box if not isinstance(box, LTTextLineHorizontal) else [box]:
            if isinstance(ln, LTTextLineHorizontal) and clean_line(ln.get_text()):
                out.append(_Line(ln.x0, ln.y0, ln.x1, ln.y1, ln.height, ln.get_text()))
    return out


def _blocks(lines: list[_Line]) -> list[_Block]:
    """Stack lines, top to bottom, onto the block just above them in the same
    column (overlapping the block's width, same type size, no more than a line
    apart). The block's width, not its last line's: a paragraph's last line
    may be one character that the next, indented line does not overlap."""
    blocks: list[_Block] = []
    for ln in sorted(lines, key=lambda ln: (-ln.y1, ln.x0)):
        for b in blocks:
            last = b.lines[-1]
            overlap = min(b.x1, ln.x1) - max(b.x0, ln.x0)
            if (
                overlap > 0.5 * min(b.x1 - b.x0, ln.x1 - ln.x0)
                and abs(last.size - ln.size) <= 0.15 * ln.size
                and 0 <= last.y0 - ln.y1 <= LINE_GAP * ln.size
            ):
                b.add(ln)
                break
        else:
            blocks.append(_Block(ln))
    return blocks


def _xy_cut(blocks: list[_Block]) -> list[_Block]:
    """Reading order: split at a horizontal gap crossing every block (top part
    first), else at a vertical one (left part first), recursively."""
    if len(blocks) <= 1:
        return blocks
    for parts in (_cut(blocks, axis=1), _cut(blocks, axis=0)):
        if len(parts) > 1:
            return [b for part in parts for b in _xy_cut(part)]
    return sorted(blocks, key=lambda b: (-b.bbox[3], b.bbox[0]))


def _cut(blocks: list[_Block], axis: int) -> list[list[_Block]]:
    # axis 1: bands from the top down; axis 0: columns from the left.
    if axis == 1:
        spans = sorted(((-b.bbox[3], -b.bbox[1], b) for b in blocks), key=lambda t: t[:2])
    else:
        spans = sorted(((b.bbox[0], b.bbox[2], b) for b in blocks), key=lambda t: t[:2])
    parts: list[list[_Block]] = []
    end = None
    for start, stop, b in spans:
        if end is None or start >= end:
            parts.append([b])
            end = stop
        else:
            parts[-1].append(b)
            end = max(end, stop)
    return parts


def _paragraphs(blocks: list[_Block]) -> list[str]:
    paras: list[list[str]] = []
    open_para = False  # the last line seen may run on into the next
    prev_size = 0.0
    for block in blocks:
        left = block.x0
        size = block.size
        right = _column_edge(block.lines, size)
        # Characters a full line holds: a line stopping short only because its
        # characters are narrower (digits, Latin) holds at least as many.
        full_len = min((len(clean_line(ln.raw)) for ln in block.lines
                        if right is not None and abs(right - ln.x1) <= SHORT * size), default=0)
        for i, ln in enumerate(block.lines):
            text = clean_line(ln.raw)
            indented = ln.x0 - left >= INDENT * size or is_indented(ln.raw)
            # A block's first line continues the previous block's paragraph only
            # if that was left open and the type size matches (body text).
            joins = open_para and not indented and (i > 0 or abs(size - prev_size) <= 0.1 * size)
            if joins and paras:
                paras[-1].append(text)
            else:
                paras.append([text])
            # A line runs on if it reaches the column edge, or stops a little short
            # in mid-sentence for narrow characters; a headline set in body type
            # stops short with fewer characters, or overruns the column.
            reach = None if right is None else right - ln.x1
            open_para = reach is not None and (
                -SHORT * size <= reach <= SHORT * size
                or 0 <= reach <= NEAR * size and len(text) >= full_len and not ends_sentence(text))
        prev_size = size
    return [join_lines(p) for p in paras]


def _column_edge(lines: list[_Line], size: float) -> float | None:
    """The right edge of a column: the furthest x1 that two or more lines reach.
    None for a block of headline or credit lines, where no two lines agree."""
    ends = sorted((ln.x1 for ln in lines), reverse=True)
    for i, edge in enumerate(ends[:-1]):
        if edge - ends[i + 1] <= 0.5 * size:
            return edge
    return None
