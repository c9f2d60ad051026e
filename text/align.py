"""Reprint alignment: one copy of a story against its earliest copy, passim-style. Pure.

    each paragraph → its bare form (normalised, punctuation and spaces dropped: full/half
                     width, PDF line breaks and 、，; do not count as edits)
    paragraph lists → equal bare paragraphs anchor the alignment ("same"); between
                     anchors, an order-keeping pairing of the most similar paragraphs
                     ("edited", with their similarity), the rest "cut" (only in the
                     earliest copy) or "added" (only in this one)
    passages       → common runs of MIN_PASSAGE characters or more: between the
                     paragraphs that are not the same they make `shared`, the share of the
                     earliest copy this one carries; over two whole short texts,
                     `same_story` (storage/catalog.py asks it)

difflib's SequenceMatcher (standard library, exact longest common runs with autojunk off)
does both levels: no alignment library is installed, and a copy of a 5,000-character
story aligns in tens of milliseconds. The headline is
the article's `title`; the dateline is the line the clean step took from the story's
opening into `source` (新华社北京4月26日电, 据新华社电, 本报讯（记者 张赫）).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from text.clean import DATELINE
from text.dedupe import _PUNCT, normalise

# Common runs shorter than this are chance (的, 发展, 4月): not a shared passage.
MIN_PASSAGE = 5
# Two paragraphs at one place in both copies are one edited paragraph from this
# similarity up; below it the earliest copy's was cut and this copy's added.
EDITED_MIN = 0.5
# Each text having this many characters of its own at one place means two texts that
# diverge there (two captions of one visit, sharing their opening), not a reprint:
# desks cut, add, or change a character or a name, they do not swap one phrase for another.
OWN_MIN = 6


def bare(text: str) -> str:
    """Text as aligned: normalised (text.dedupe.normalise), without punctuation and spaces."""
    return _PUNCT.sub("", normalise(text))


def _ratio(a: str, b: str) -> float:
    """Similarity of two bare texts: 2·(characters in common runs) / (len a + len b)."""
    return round(SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


def passages(a: str, b: str) -> list[tuple[int, int, int]]:
    """Aligned passages of two bare texts, in order: (start in a, start in b, length)."""
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return [tuple(m) for m in blocks if m.size >= MIN_PASSAGE]


def _carried(a: str, b: str) -> int:
    """Characters of bare text a found in bare text b, in aligned passages."""
    return sum(n for _, _, n in passages(a, b))


def shared(paragraphs: list[dict]) -> float:
    """Share of the earliest copy's bare text this copy carries, from the aligned
    paragraphs: same ones whole, and the aligned passages between the rest of each side
    (edited, cut and added paragraphs: an edit, a paragraph split, merged or moved).
    Aligning the two whole texts at once costs ten times as much."""
    ops = [(p["op"], bare(p["earliest"] or ""), bare(p["this"] or "")) for p in paragraphs]
    total = sum(len(a) for _, a, _ in ops)
    if not total:
        return 1.0
    carried = sum(len(a) for op, a, _ in ops if op == "same")
    rest_a = "".join(a for op, a, _ in ops if op != "same")
    rest_b = "".join(b for op, _, b in ops if op != "same")
    if rest_a and rest_b:
        carried += _carried(rest_a, rest_b)
    return round(carried / total, 4)


def same_story(a: str, b: str) -> bool:
    """Whether two bare texts are copies of one text by alignment: they share a passage
    and nowhere does each have OWN_MIN characters of its own at the same place (before,
    between or after their passages)."""
    ps = passages(a, b)
    if not ps:
        return False
    i = j = 0
    for pa, pb, n in [*ps, (len(a), len(b), 0)]:
        if min(pa - i, pb - j) >= OWN_MIN:
            return False
        i, j = pa + n, pb + n
    return True


def dateline(article: dict) -> str:
    """The dateline as printed: the line of `source` the clean step took from the story's
    opening; for an article without `source`, an opening of its first paragraph that
    reads as one. Empty when the story has none."""
    for line in (article.get("source") or "").split("\n"):
        if DATELINE.match(line):
            return line.strip()
    paragraphs = article.get("paragraphs") or []
    m = DATELINE.match(paragraphs[0]) if paragraphs else None
    return m.group("src") if m else ""


def _change(earliest: str, this: str) -> dict:
    return {"earliest": earliest, "this": this, "changed": bare(earliest) != bare(this)}


def align_paragraphs(earliest: list[str], this: list[str]) -> list[dict]:
    """This copy's paragraphs against the earliest copy's, in reading order: dicts of
    op (same | edited | cut | added), earliest, this (None on the side that lacks it)
    and similarity (1.0 for same, 0.0 for cut and added)."""
    a, b = [bare(p) for p in earliest], [bare(p) for p in this]
    out: list[dict] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out += [_op("same", earliest[i1 + k], this[j1 + k], 1.0) for k in range(i2 - i1)]
        else:
            out += _pair(earliest[i1:i2], this[j1:j2], a[i1:i2], b[j1:j2])
    return out


def _op(op: str, earliest: str | None, this: str | None, sim: float) -> dict:
    return {"op": op, "earliest": earliest, "this": this, "similarity": sim}


def _pair(earliest: list[str], this: list[str], a: list[str], b: list[str]) -> list[dict]:
    """Paragraphs between two anchors: the order-keeping pairing with the greatest total
    similarity over pairs of at least EDITED_MIN (a small dynamic programme: these runs
    are a few paragraphs long)."""
    sim = [[_ratio(x, y) for y in b] for x in a]
    n, m = len(a), len(b)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            paired = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= EDITED_MIN else -1.0
            best[i][j] = max(paired, best[i + 1][j], best[i][j + 1])
    out: list[dict] = []
    i = j = 0
    while i < n or j < m:
        paired = i < n and j < m and sim[i][j] >= EDITED_MIN
        if paired and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            out.append(_op("edited", earliest[i], this[j], sim[i][j]))
            i, j = i + 1, j + 1
        elif i < n and (j == m or best[i][j] == best[i + 1][j]):
            out.append(_op("cut", earliest[i], None, 0.0))
            i += 1
        else:
            out.append(_op("added", None, this[j], 0.0))
            j += 1
    return out


def align(earliest: dict, this: dict) -> dict:
    """A reprint (article JSON) against the earliest copy of its story: headline and
    dateline changes, paragraphs aligned, and the shared share of the earliest text."""
    paragraphs = align_paragraphs(earliest.get("paragraphs") or [], this.get("paragraphs") or [])
    return {
        "headline": _change(earliest.get("title") or "", this.get("title") or ""),
        "dateline": _change(dateline(earliest), dateline(this)),
        "paragraphs": paragraphs,
        "shared": shared(paragraphs),
    }
