"""What the search index holds of a text, and what a query asks of it: pure, no I/O.

Chinese has no spaces, so an index of raw text holds whole clauses as tokens and finds no
word inside them. A text is indexed three ways:

    words   jieba's words (text.dedupe.words: the segmentation dedupe uses), for ranking
    grams   each CJK run as its character bigrams ("扩大内需" → 扩大 大内 内需), a run of one
            character as itself, other words (Latin, digits) as they are, in text order
    tails   the last character of each CJK run of two or more (so a one-character query
            finds a character at the end of a run too)

A query term matches where its grams occur as a phrase: a substring match, which also
finds names and words jieba cuts differently in context ("陈吉宁" cut 陈/吉宁). The words
column only ranks: where the term is also one of jieba's words, the hit ranks first.

Query syntax: terms separated by spaces must all occur; a term without quotes is cut into
jieba words, each of which must occur; "a quoted phrase" must occur as written (punctuation
inside it separates runs, as in the text). Nothing else is syntax: FTS operators, `*`,
`NEAR(`, brackets are text, dropped as punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from text.dedupe import normalise, words

# CJK ideographs (BMP blocks and the supplementary planes): what is cut into bigrams.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_RUN = re.compile(f"[{_HAN}]+|[^\\W_{_HAN}]+")
_IS_HAN = re.compile(f"[{_HAN}]")
_QUOTED = re.compile(r'"([^"]*)"?')  # an unbalanced quote runs to the end of the query
# A line break beside punctuation ends a unit that is cut alone (no token spans it). Other
# line breaks are kept inside the unit, where normalise drops those between CJK characters:
# a column break of PDF text, not a word boundary.
_UNIT_BREAK = re.compile(r"(?<=[^\w\n])\n|\n(?=[^\w\n])")


class QueryError(ValueError):
    """A query that asks for nothing: empty, or only punctuation."""


@dataclass(frozen=True)
class Terms:
    """An indexed text: each field its tokens joined by spaces."""

    words: str
    grams: str
    tails: str


@dataclass(frozen=True)
class Term:
    """One thing a query asks for: `text` (normalised, as to highlight it), the grams that
    must occur in order (a phrase), or for one CJK character `char`; `words`, the jieba
    words that rank a hit."""

    text: str
    grams: tuple[str, ...]
    words: tuple[str, ...]
    char: str = ""


def _runs(normalised: str) -> list[str]:
    return _RUN.findall(normalised)


def _grams_of(runs: list[str]) -> list[str]:
    out: list[str] = []
    for run in runs:
        if len(run) > 1 and _IS_HAN.match(run):
            out += [run[i : i + 2] for i in range(len(run) - 1)]
        else:
            out.append(run)
    return out


@lru_cache(maxsize=65536)
def _unit(unit: str) -> tuple[str, str, str]:
    # Wire copy repeats paragraphs across dozens of papers: each is segmented once.
    normalised = normalise(unit)
    runs = _runs(normalised)
    tails = [r[-1] for r in runs if len(r) > 1 and _IS_HAN.match(r)]
    return " ".join(words(normalised)), " ".join(_grams_of(runs)), " ".join(tails)


def index_terms(*texts: str) -> Terms:
    """The tokens of `texts` (a title, a body, …) to index: no token spans two of them,
    nor a paragraph break after punctuation."""
    parts = [_unit(u) for t in texts for u in _UNIT_BREAK.split(t) if u.strip()]
    return Terms(*(" ".join(p[i] for p in parts if p[i]) for i in range(3)))


def _term(text: str) -> Term | None:
    normalised = normalise(text)
    runs = _runs(normalised)
    if not runs:
        return None
    if len(runs) == 1 and len(runs[0]) == 1 and _IS_HAN.match(runs[0]):
        return Term(runs[0], (), (runs[0],), char=runs[0])
    return Term(normalised, tuple(_grams_of(runs)), tuple(words(normalised)))


def parse_query(query: str) -> list[Term]:
    """The terms a query asks for, each of which must occur; QueryError if there are none."""
    terms: list[Term] = []
    pos = 0
    for m in _QUOTED.finditer(query):
        terms += _unquoted(query[pos : m.start()])
        phrase = _term(m.group(1))
        if phrase is not None:
            terms.append(phrase)
        pos = m.end()
    terms += _unquoted(query[pos:])
    if not terms:
        raise QueryError(f"query {query!r} has no words to search for")
    return list(dict.fromkeys(terms))  # a term asked twice is asked once


def _unquoted(chunk: str) -> list[Term]:
    """Each jieba word of each space-separated chunk is a term of its own, but a single
    character jieba cut off stays with its neighbour in its run: 唐国宏, cut 唐国/宏, is a
    name jieba does not know, not two terms."""
    glued: list[str] = []
    # normalise drops the spaces between CJK characters: split on them first
    for run in (r for part in chunk.split() for r in _runs(normalise(part))):
        start = len(glued)
        for w in words(run):
            if len(glued) > start and (len(w) == 1 or len(glued[-1]) == 1) and _IS_HAN.match(w):
                glued[-1] += w
            else:
                glued.append(w)
    return [t for w in glued if (t := _term(w)) is not None]
