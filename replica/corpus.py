"""Split the seed pages (real newspaper pages as text, mostly from PDFs) into articles.

The seeds come in two layouts. PDF text of narrow columns ("wrapped": lines broken
mid-sentence, headlines printed *after* the body they belong to, photo captions in
between) and unwrapped text (one paragraph a line, headlines before the body, some
Markdown marks). The parser turns both into a sequence of headline groups and
paragraphs, then pairs them into articles. It is a heuristic: what it produces *is*
the replica's ground truth, so it only has to be deterministic and plausible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.resources import files
from statistics import median

SENTENCE_END = "。！？!?…"
CLOSERS = "”’」』）)》"
# Datelines open a story: wire copy, the paper's own news, a reprint note.
DATELINE = re.compile(
    r"^(据?新华社[^，。电]{0,12}电(?:[（(][^）)]*[）)])?|本报讯\s*(?:[（(][^）)]*[）)])?)"
)
CREDIT = re.compile(r"(记者|通讯员).{0,12}摄$")
BYLINE = re.compile(r"^[●■]\s*((?:本报|新华社|全媒体)?记者.*)$")
MASTHEAD = re.compile(r"准印证号|星期[一二三四五六日天]|总第\d+期|本期\s*\d+\s*版")
META_LINE = re.compile(r"^信息来源[:：]")
DOUBLED = re.compile(r"^(.)\1(.)\2")  # PDF glyph doubling: "图图①①修身养性修身养性"
NAME = re.compile(r"^[\u4e00-\u9fff]{2,3}$")
KICKER_END = re.compile(r"(强调|指出|表示|时|说|：|:)$")
CJK = r"\u4e00-\u9fff"


@dataclass(frozen=True)
class Article:
    """One story as the replica prints it; the fields are the ground truth."""

    title: str
    paragraphs: tuple[str, ...]
    kicker: str = ""
    subtitle: str = ""
    author: str = ""
    source: str = ""
    kind: str = "news"  # news | ad | pseudo
    wire: bool = False  # agency copy that other papers reprint
    seed: str = ""  # file the text came from

    def with_(self, **changes) -> Article:
        return replace(self, **changes)


@dataclass
class _Draft:
    heading: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


def ends_sentence(line: str) -> bool:
    core = line.rstrip(CLOSERS + " ")
    if core and core[-1] in SENTENCE_END:
        return True
    # "（下转四版）", "（据新华网客户端）" close a story without a full stop
    return bool(re.search(r"[（(](下转|转|据)[^）)]*[）)]$", line))


def normalise(line: str) -> str:
    line = line.strip().replace("**", "")
    line = re.sub(r"^#+\s*", "#", line)  # keep one '#' as the title mark
    # letter-spaced PDF headlines: "又 是 一 年 赏 春 时"
    if re.fullmatch(rf"#?(?:[{CJK}] ){{3,}}[{CJK}]", line):
        line = line.replace(" ", "")
    # PDF spacing around numbers: "新华社上海 4月 29日电"
    line = re.sub(rf"(?<=[{CJK}])\s+(?=\d)|(?<=\d)\s+(?=[{CJK}])", "", line)
    return line


def _is_heading(line: str, wrapped: bool, next_line: str | None) -> bool:
    if line.startswith("#"):
        return True
    if ends_sentence(line) or DATELINE.match(line) or line.startswith(("——", "■", "-", ">>>")):
        return False
    if wrapped:
        # a headline line stands alone; a paragraph's first line runs on into the next
        return _headline_like(line) and (
            not next_line or _headline_like(next_line) or next_line.startswith("——")
        )
    if len(line) > 90 or "。" in line:
        return False
    # an unwrapped paragraph broken by the page: "区委书记胡广杰，区委副" + next line
    broken = re.search(r"[，,]", line) and next_line and not DATELINE.match(next_line)
    return not (broken and ends_sentence(next_line) and not _is_heading_line_only(next_line))


def _is_heading_line_only(line: str) -> bool:
    return line.startswith("#")


def _headline_like(line: str) -> bool:
    return len(line) <= 32 and not re.search(r"[，,。；;]", line) and not ends_sentence(line)


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


STRONG = 4  # shared bigrams that tie a headline to a story other than the latest


def _assign(group: list[tuple[str, bool]], waiting: list[_Draft]) -> list[tuple[_Draft, list[str]]]:
    """Give the blocks of a headline group (split at blank lines) to the stories they
    name. A block names a story when it shares STRONG bigrams with it (the latest of
    the stories it names about equally well); otherwise it continues the block before
    it, or is a subhead given to the latest story."""
    blocks: list[list[str]] = []
    for line, blank_before in group:
        if blank_before or not blocks:
            blocks.append([])
        blocks[-1].append(line)
    out: list[tuple[_Draft, list[str]]] = []
    for block in blocks:
        free = [d for d in waiting if all(d is not t for t, _ in out)]
        words = _bigrams("".join(block))
        scored = [(len(words & _bigrams("".join(d.paragraphs))), d) for d in free]
        top = max((sc for sc, _ in scored), default=0)
        if top >= STRONG:
            # PDF order: the latest story that the block names about as well as any
            out.append((next(d for sc, d in reversed(scored) if sc >= top / 2), block))
        elif out:
            out[-1][1].extend(block)
        else:
            out.append((free[-1], block))
    return out


def parse_seed(text: str, seed: str = "") -> list[Article]:
    lines = [normalise(x) for x in text.splitlines()]
    content = [x for x in lines if x]
    wrapped = median(len(x) for x in content) < 40
    width = sorted(len(x) for x in content)[int(len(content) * 0.8)]

    drafts: list[_Draft] = []
    headless: list[_Draft] = []  # stubs waiting for the headline printed after them
    cur: _Draft | None = None
    para: list[str] = []
    heading: list[tuple[str, bool]] = []  # (line, follows a blank line)

    def flush_para() -> None:
        nonlocal cur
        if not para:
            return
        text = "".join(para)
        para.clear()
        # a dateline opens a story, unless the story under a headline still lacks one
        starts_story = DATELINE.match(text) and (
            cur is None
            or (cur.paragraphs if wrapped else any(DATELINE.match(p) for p in cur.paragraphs))
        )
        if cur is None or starts_story:
            cur = _Draft()
            drafts.append(cur)
            headless.append(cur)
        cur.paragraphs.append(text)

    def drop_caption() -> None:
        nonlocal cur
        # a photo caption and its credit line belong to no story
        if para:
            para.clear()
        elif cur and cur.paragraphs:
            cur.paragraphs.pop()
            if not cur.paragraphs and cur in headless:
                headless.remove(cur)
                drafts.remove(cur)
                cur = None

    def flush_heading() -> None:
        nonlocal cur
        if not heading:
            return
        group = heading.copy()
        heading.clear()
        if any(MASTHEAD.search(x) for x, _ in group):
            return
        # PDF order: a headline follows its story. Unwrapped text: a headline may land
        # in the middle of a story that began with a dateline and no headline.
        waiting = (
            headless
            if wrapped
            else [d for d in headless if d is cur and DATELINE.match(d.paragraphs[0])]
        )
        if not waiting:
            if wrapped:
                return  # column labels (栏目): in PDF order a headline has its story above
            marks = [i for i, (x, _) in enumerate(group) if x.startswith("#")]
            if marks and marks[0] > 1 and cur and cur.paragraphs:
                # lines before the kicker close the story above: "举报交通违法行为人人有责 / 方翔"
                cut = marks[0] if NAME.match(group[marks[0] - 1][0]) else marks[0] - 1
                cur.heading += [x for x, _ in group[:cut]]
                group = group[cut:]
            cur = _Draft(heading=[x for x, _ in group])
            drafts.append(cur)
            return
        for target, lines in _assign(group, waiting):
            target.heading = lines
            headless.remove(target)
        if wrapped:
            cur = None  # in PDF order the next paragraph is the next story

    nonblank = [i for i, x in enumerate(lines) if x]
    for n, i in enumerate(nonblank):
        line = lines[i]
        nxt = lines[nonblank[n + 1]] if n + 1 < len(nonblank) else None
        blank_after = i + 1 < len(lines) and not lines[i + 1]
        blank_before = i > 0 and not lines[i - 1]
        if DOUBLED.match(line):
            continue
        if META_LINE.match(line):
            continue
        if CREDIT.search(line) and len(line) < 20 and not BYLINE.match(line):
            drop_caption()
            continue
        if BYLINE.match(line) and not para:
            heading.append((line, blank_before))
            flush_heading()  # what follows a byline is another story's headline
            continue
        continues_heading = heading and line.startswith("——")
        if not para and (
            continues_heading
            or _is_heading(line, wrapped, ("" if blank_after else nxt) if wrapped else nxt)
        ):
            heading.append((line, blank_before))
            continue
        flush_heading()
        para.append(line)
        if not wrapped or (ends_sentence(line) and (len(line) < width - 1 or blank_after)):
            flush_para()
    flush_para()
    flush_heading()
    return [a for d in drafts if d.heading and d.paragraphs for a in [_article(d, seed)]]


def _article(draft: _Draft, seed: str) -> Article:
    lines = [x for x in draft.heading]
    author = source = subtitle = kicker = ""
    rest = []
    for line in lines:
        byline = BYLINE.match(line)
        if byline:
            source = byline.group(1)
            author = re.sub(r"^.*?记者\s*|\s*文/摄$|\s*摄$", "", source)
        elif line.startswith("——"):
            subtitle = line
        else:
            rest.append(line)
    if len(rest) > 1 and NAME.match(rest[-1]):
        author = rest.pop()
    marked = [i for i, x in enumerate(rest) if x.startswith("#")]
    rest = [x.lstrip("#") for x in rest]
    if marked:
        t = marked[0]
        kicker = " ".join(rest[:t])
        title = rest[t]
        subtitle = " ".join(rest[t + 1 :] + ([subtitle] if subtitle else []))
    else:
        # a kicker introduces the headline ("…时强调") or names the column ("今日论语")
        if len(rest) > 1 and (KICKER_END.search(rest[0]) or len(rest[0]) <= 4):
            kicker = rest.pop(0)
        title = rest[0]
        subtitle = " ".join(rest[1:] + ([subtitle] if subtitle else []))
    paragraphs = tuple(draft.paragraphs)
    dateline = next(filter(None, map(DATELINE.match, paragraphs)), None)
    if dateline:
        source = dateline.group(1).strip()
        names = re.search(r"记者\s*([^）)]+)", source)
        if names:
            author = names.group(1).strip()
    body = "".join(paragraphs)
    wire = "新华" in source or bool(re.search(r"[（(]据新华", body[-20:]))
    kind = "pseudo" if any(">>>刊" in p for p in paragraphs) else "news"
    return Article(
        title=title,
        paragraphs=paragraphs,
        kicker=kicker,
        subtitle=subtitle,
        author=author,
        source=source,
        kind=kind,
        wire=wire,
        seed=seed,
    )


@cache
def seed_articles() -> tuple[Article, ...]:
    """Every article of every bundled seed page, in seed order."""
    out: list[Article] = []
    for path in sorted(files("replica").joinpath("data").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".txt"):
            out += parse_seed(path.read_text(encoding="utf-8"), seed=path.name[:3])
    return tuple(out)
