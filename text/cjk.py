"""Whitespace and line-break repair for Chinese newspaper text.

E-paper text is typeset for narrow columns: lines break mid-sentence, paragraphs
are indented with full-width spaces (U+3000) or &nbsp;, and text that went through
a page PDF gains stray blank lines at column breaks. A line break inside Chinese
text is not a word boundary, so joining must add no space; Latin words broken
across lines still need one. Punctuation is never rewritten: users quote it.
"""

import re
import unicodedata

# Ideographs, kana/hangul and the CJK/full-width punctuation blocks: characters
# between which a line break carries no space.
_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef\U00020000-\U0003134f"
)
_CJK_RE = re.compile(f"[{_CJK}]")
# Whitespace as e-papers print it: ASCII, no-break, full-width, the typographic
# spaces; plus invisible characters that CMS editors leave behind.
_SPACE = "\t\x0b\x0c \xa0\u1680\u2000-\u200a\u202f\u205f\u3000"
_SPACE_RUN = re.compile(f"[{_SPACE}]+")
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad]")
# Indentation that survives HTML whitespace collapsing: full-width or no-break
# spaces. (Plain ASCII spaces at a line start are just source formatting.)
_INDENT = re.compile("^[\u3000\xa0]")
# What a paragraph's last line ends with: sentence-final punctuation, possibly
# followed by closing quotes/brackets, or a jump note "（下转四版）".
_TERMINAL = re.compile(
    "[。！？!?…；;:：][”’」』）)》〉】\"']*$|[”」』]$|[（(](?:下转|上接|转|据)[^）)]*[）)]$"
)


# Newspaper columns (and CMS re-flow of them) hold well under 60 characters a
# line; longer lines are whole paragraphs.
COLUMN_MAX = 60


def is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


def clean_line(line: str) -> str:
    """One printed line: invisible characters dropped, indentation and trailing
    space removed, inner whitespace runs folded to one ASCII space."""
    line = _INVISIBLE.sub("", line)
    return _SPACE_RUN.sub(" ", line).strip()


def is_indented(raw_line: str) -> bool:
    """True if the raw line opens with paragraph indentation."""
    return bool(_INDENT.match(_INVISIBLE.sub("", raw_line).lstrip(" \t")))


def ends_sentence(line: str) -> bool:
    return bool(_TERMINAL.search(line))


def join_lines(lines: list[str]) -> str:
    """Join the cleaned lines of one paragraph. A space goes in only where both
    sides are Latin script (a broken English phrase), never next to CJK."""
    out = ""
    for line in lines:
        if not line:
            continue
        if out and needs_space(out[-1], line[0]):
            out += " "
        out += line
    return out


def needs_space(left: str, right: str) -> bool:
    """Whether a line break between these two characters stands for a space:
    only between Latin words, never beside CJK nor inside a number."""
    if is_cjk(left) or is_cjk(right):
        return False
    if left.isdigit() and right.isdigit():
        return False  # a number split by the column edge
    return (left.isalnum() or left in ",.;:!?)%") and right.isalnum()


def paragraphs(text: str) -> list[str]:
    """Split raw text into paragraphs and repair its line breaks.

    A new paragraph starts at an indented line, or after a line ending a
    sentence, unless that line fills the column (re-flowed PDF text, where
    a full line may end on a full stop in mid-paragraph). Everything else is
    joined, a blank line in mid-sentence (a PDF column break) included.
    """
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A line as set, for measuring: its indentation takes column width too.
    lines = [(_INVISIBLE.sub("", raw).lstrip(" \t").rstrip(), clean_line(raw)) for raw in raw_lines]
    fills = _column_test([set_ for set_, line in lines if line])
    paras: list[list[str]] = []
    current: list[str] = []
    last_set = ""
    blank = False
    for set_, line in lines:
        if not line:
            blank = True
            continue
        if current and (
            is_indented(set_) or ends_sentence(current[-1]) and (blank or not fills(last_set))
        ):
            paras.append(current)
            current = []
        current.append(line)
        last_set = set_
        blank = False
    if current:
        paras.append(current)
    return [p for p in (join_lines(ls) for ls in paras) if p]


def _column_test(lines: list[str]):
    """A predicate telling whether a line fills the column. Text counts as set
    in a column when several lines reach the same width, measured in characters
    (CMS re-flow) or in display width (PDF lines, digits being half-width);
    otherwise no line fills anything and each sentence end is a paragraph end."""
    max_len = max(map(len, lines), default=0)
    if len(lines) < 3 or max_len > COLUMN_MAX:
        return lambda line: False
    max_vis = max(map(_display_width, lines))

    def fills(line: str) -> bool:
        return len(line) >= max_len - 1 or _display_width(line) >= max_vis - 2

    # In a column most lines are full (all but each paragraph's last); in one
    # paragraph per line, only the longest one or two are.
    return fills if sum(map(fills, lines)) >= max(2, 0.4 * len(lines)) else (lambda line: False)


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def normalise_text(text: str) -> str:
    """Normalise free text (a title, a caption, a paragraph, or several
    paragraphs): NFC, line breaks repaired, paragraphs joined by "\\n"."""
    return "\n".join(paragraphs(unicodedata.normalize("NFC", text)))
