"""Clean: one article page (as the spiders hand it over) → the contract's fields.

Selectors first: every CMS family prints 引题/标题/副题 and the body in fixed
elements (its skins in papers/families/, docs/clean.md), so reading those elements is
exact and fast. The family's own skins are tried first, then every other skin (a paper
that changed CMS still parses). Only when no skin matches does trafilatura
extract body and metadata, with a warning saying so. Either way the text goes
through the same CJK repair (text.cjk) and the same source-line split.

Pure functions, no I/O: `clean_article(item) -> dict`.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html
import trafilatura
from lxml import etree
from lxml.cssselect import CSSSelector

from papers.family import Skin, families
from papers.ids import PAGE_LABEL
from text.cjk import clean_line, needs_space, normalise_text
from text.cjk import paragraphs as split_paragraphs

__all__ = ["clean_article", "normalise_text"]  # normalise_text lives in text.cjk


_FIELDS = ("title", "kicker", "subtitle", "author", "images", "page")


@dataclass(frozen=True)
class _Compiled:
    family: str
    skin: Skin
    body: tuple[CSSSelector, ...]
    sel: dict


@functools.cache
def _compile(family: str, skin: Skin) -> _Compiled:
    sel = {f: CSSSelector(getattr(skin, f)) for f in _FIELDS if getattr(skin, f)}
    return _Compiled(family, skin, tuple(CSSSelector(b) for b in skin.body), sel)


def _skins(family: str) -> list[_Compiled]:
    """Every registered family's skins (papers.family), the declared family's first."""
    every = [_compile(f.name, skin) for f in families() for skin in f.skins]
    return sorted(every, key=lambda c: c.family != family)


# ---------------------------------------------------------------- patterns
# Datelines and bylines that open a story: wire copy, the paper's own news.
DATELINE = re.compile(
    r"^[■●□◆▲]?\s*(?P<src>(?:(?:据)?(?:新华社|中新社|本报|人民日报)"
    r"(?:[\u4e00-\u9fff·]{1,10}?\s*\d{1,2}\s*月\s*\d{1,2}\s*日)?电|本报讯)"  # 新华社北京4月26日电
    r"(?:\s*[（(][^）)]{0,40}[）)])?)\s*"  # （记者 XXX）
)
# A byline paragraph of its own: "■本报记者 李晓明 文/摄", "□记者 张三 通讯员 李四".
BYLINE = re.compile(
    r"^[■●□◆▲]?\s*((?:文/图\s*|图/文\s*)?(?:本报|新华社|全媒体|融媒体|人民日报)?(?:首席)?"
    r"(?:特约)?(?:记者|通讯员|实习生)[^。，,；;！？]{1,40})$"
)
CREDIT = re.compile(
    r"^[■●□◆▲]?\s*(?:[^。，]{0,20}(?:记者|通讯员|摄影)[^。，]{0,16}摄|[^。，]{1,12}[/／]摄)$"
)
ROLES = re.compile(r"(?:全媒体|融媒体|本报|新华社|首席|特约|见习)*(?:记者|通讯员|实习生|摄影)")
NAME_TAIL = re.compile(r"\s*(?:文/摄|文/图|图/文|摄|报道|发自.*)$")
# Page furniture that lands in a body container: navigation, share and print
# links, editor and copyright lines. Matched on short paragraphs only.
BOILERPLATE = re.compile(
    r"^(?:上一篇|下一篇|上一期|下一期|上一版|下一版|分享到)|^(?:返回目录|返回首页|返回版面|返回顶部|返回"
    r"|打印本页|关闭窗口|打印|关闭)$|^(?:【[^】]{1,6}】\s*)+$|^[（(【\[]?(?:责任编辑|编辑|校对|美编)[:：]"
    r"|版权所有|copyright|©|ICP[备证]",
    re.IGNORECASE,
)
BOILERPLATE_MAX = 80
# The 200 commonest Chinese characters make up 26–84% of any 100 characters of
# the seed pages, but 4% of the same text decoded with the wrong codec (UTF-8
# bytes read as GBK give rare characters like 鏂板崕绀).
COMMON_HANZI = frozenset(
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使"
    "点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明"
    "看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料"
    "象员革位入常文总"
)
HANZI = re.compile("[\u4e00-\u9fff]")
LATIN1_LETTERS = re.compile("[\u00c0-\u00ff]")

BLOCK_TAGS = frozenset(
    "p div li ul ol dl dd dt h1 h2 h3 h4 h5 h6 tr td th table tbody section article "
    "blockquote pre center founder-content figure figcaption header footer".split()
)
SKIP_TAGS = frozenset(
    "script style noscript iframe button form select input textarea img map area".split()
)
BR = "\u2028"  # stands for <br> until source line breaks are resolved


# ---------------------------------------------------------------- entry point
def clean_article(item: dict) -> dict:
    """The article fields and text of one spider item; problems become warnings."""
    url = item.get("url", "")
    content = item.get("html") or ""
    warnings: list[str] = []
    if "json" in (item.get("content_type") or ""):
        fields = _from_json(content, url, warnings)
    else:
        fields = _from_html(content, item.get("family", ""), url, warnings)
    return _finish(fields, item, warnings)


def _finish(f: dict, item: dict, warnings: list[str]) -> dict:
    paras = [p for p in f["paragraphs"] if len(p) > BOILERPLATE_MAX or not BOILERPLATE.search(p)]
    source, paras = _split_source(paras)
    page_no, page_name = _page(item, f.get("page", ""))
    out = {
        "kicker": f.get("kicker", ""),
        "title": f.get("title", ""),
        "subtitle": f.get("subtitle", ""),
        # The printed author line, else the reporters the source names, else metadata.
        "author": f.get("author") or _names(source) or f.get("meta_author", ""),
        "source": source,
        "page_no": page_no,
        "page_name": page_name,
        "paragraphs": paras,
        "text": "\n".join(paras),
        "images": f.get("images", []),
    }
    if not out["title"]:
        warnings.append("title not found")
    if not paras:
        warnings.append("image-only article" if out["images"] else "empty body")
    if _mojibake(out["title"] + out["text"]):
        warnings.append("probable mojibake: text looks wrongly decoded")
    out["warnings"] = warnings
    return out


def _mojibake(text: str) -> bool:
    """Decoding errors (U+FFFD, 锟斤拷), GBK read as Latin-1 (ÐÂ»ªÉç), or
    Chinese made of rare characters only (UTF-8 read as GBK)."""
    if "\ufffd" in text or "锟斤拷" in text:
        return True
    if len(LATIN1_LETTERS.findall(text)) > max(10, 0.2 * len(text)):
        return True
    hanzi = HANZI.findall(text)
    return len(hanzi) >= 30 and sum(c in COMMON_HANZI for c in hanzi) < 0.12 * len(hanzi)


# ---------------------------------------------------------------- HTML
def _from_html(html: str, family: str, url: str, warnings: list[str]) -> dict:
    root = _parse(html)
    if root is None:
        return {"paragraphs": []}
    # Skins share element names (div#ozoom is in two), so the skin whose body
    # matches and whose title is found wins; the declared family's skins first,
    # then the others (a paper whose site was redesigned).
    best = None
    for c in _skins(family):
        bodies = next((found for b in c.body if (found := b(root))), [])
        if bodies:
            titled = "title" in c.sel and bool(c.sel["title"](root))
            if best is None or titled and not best[2]:
                best = (c, bodies, titled)
            if titled:
                break
    if best is None:
        warnings.append("no family selectors matched: trafilatura fallback")
        return _with_trafilatura(root, url)
    c, bodies, _ = best
    if c.family != family:
        warnings.append(f"selectors of {c.family}/{c.skin.name} used, not {family}'s")
    return _with_skin(root, c, bodies, url)


def _parse(html: str):
    # lxml refuses str input that carries an XML encoding declaration.
    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)
    if not html.strip():
        return None
    try:
        return lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def _with_skin(root, c: _Compiled, bodies: list, url: str) -> dict:
    sel = c.sel
    found = {f: sel[f](root) if f in sel else [] for f in _FIELDS}
    # A skin whose title cell is missing (or not recorded) still has a headline on the page.
    title_el = found["title"][0] if found["title"] else _headline_element(root, bodies)
    order = {el: i for i, el in enumerate(root.iter())}
    pos = order.get(title_el, -1)

    def heading(field: str, before: bool) -> str:
        # 引题 sits above the title, 副题 below (classic uses one class for both).
        els = [
            e
            for e in found[field]
            if title_el is not None and e is not title_el and (order[e] < pos) == before
        ]
        return " ".join(t for t in map(_heading_text, els) if t)

    # Headline elements printed inside the body container are not body text.
    headings = {e for f in ("kicker", "subtitle", "author", "page") for e in found[f]}
    headings |= {title_el} if title_el is not None else set()
    images, captions = _images(bodies, found["images"], url)
    paras = [
        p for b in bodies for p in _block_paragraphs(b, headings | captions, c.skin.nbsp_paragraphs)
    ]
    return {
        "title": _heading_text(title_el) if title_el is not None else "",
        "kicker": heading("kicker", before=True),
        "subtitle": heading("subtitle", before=False),
        "author": _author(" ".join(map(_heading_text, found["author"]))),
        "meta_author": _enp_author(root),
        "page": _heading_text(found["page"][0]) if found["page"] else "",
        "paragraphs": paras,
        "images": images,
    }


def _author(text: str) -> str:
    """Names from an author element: "作者：本报记者 张三" → "张三"."""
    text = re.sub(
        r"《[^》]*》\s*[（(][^）)]*[）)]", "", text
    )  # 人民日报's "《人民日报》（…第01版）"
    text = re.sub(r"^(?:作者|记者|文|图)\s*[:：/]\s*", "", text.strip())
    return " ".join(ROLES.sub(" ", NAME_TAIL.sub("", text)).split())


def _enp_author(root) -> str:
    # Founder's metadata comment: <!--enpproperty …<author>…</author>…/enpproperty-->
    for comment in root.iter(etree.Comment):
        if comment.text and comment.text.lstrip().startswith("enpproperty"):
            m = re.search(r"<author>(.*?)</author>", comment.text, re.S)
            return clean_line(m.group(1)) if m else ""
    return ""


def _with_trafilatura(root, url: str) -> dict:
    # Read what trafilatura does not know (引题/副题, "作者：" lines, figures)
    # before it prunes the tree.
    headings = [(h, _heading_text(h)) for h in root.iter("h1", "h2", "h3")]
    bylines = (clean_line(t) for t in _AUTHOR_TEXT(root))
    author = _author(next((t for t in bylines if len(t) <= 40), ""))
    images, _ = _images([], root.findall(".//figure"), url)
    doc = trafilatura.bare_extraction(
        root, url=url, with_metadata=True, include_comments=False, include_tables=False
    )
    if doc is None:
        return {"paragraphs": [], "images": images}
    title = clean_line(doc.title or "")
    title_el = next((h for h, text in headings if text == title), None)
    # trafilatura reads <title> first, which on many e-papers is the site's name.
    headline = _headline_element(root)
    if headline is not None and (not title or title in _document_title(root)):
        title_el, title = headline, _heading_text(headline)
    return {
        "title": title,
        "kicker": _beside(title_el, before=True),
        "subtitle": _beside(title_el, before=False),
        "author": author,
        "meta_author": clean_line(doc.author or ""),
        "paragraphs": split_paragraphs(doc.text or ""),
        "images": images,
    }


# Where a page prints its headline when no skin says: a heading, else the bold line of a
# centred cell (Founder classic's td[align=center] strong, PaperIndex's span[align=center]).
_HEADLINE_LEVELS = (
    CSSSelector("h1"),
    CSSSelector("h2"),
    CSSSelector("h3"),
    CSSSelector("[align=center] strong, [align=center] b"),
    # the cells public crawler code reads the headline from (docs/fit.md), when not a heading
    CSSSelector(
        "founder-title, #Title, #title, #wztitle, #art_title, .BSHARE_TEXT,"
        " .main-article-alltitle, .newsdetatit, .news_header"
    ),
)
HEADLINE_MAX = 80
# Not a headline: bylines, datelines, page labels (a headline may end in ？ or ！).
_NOT_A_HEADLINE = re.compile(
    r"^(?:作者|来源|编辑|记者)|日期|发布|浏览|\d{4}[-年/.]\d|第\s*\w+\s*版"
)


def _document_title(root) -> str:
    return clean_line(root.findtext(".//title") or "")


def _headline_element(root, bodies=()):
    """The page's headline element outside the body: the first h1 (else h2, h3, a centred
    bold line) that reads as a headline. A link, a dateline or the site's name (the whole
    <title>) is page furniture, not the headline; one printed above the body wins."""
    site_name = _document_title(root)
    inside = {e for b in bodies for e in b.iter()}
    order = {el: i for i, el in enumerate(root.iter())}
    start = min((order[b] for b in bodies), default=len(order))
    for level in _HEADLINE_LEVELS:
        found = []
        for el in level(root):
            text = _heading_text(el)
            if (
                el not in inside
                and text
                and text != site_name
                and len(text) <= HEADLINE_MAX
                and el.find(".//a") is None
                and not _NOT_A_HEADLINE.search(text)
            ):
                found.append(el)
        if found:
            return min(found, key=lambda el: (order[el] > start, order[el]))
    return None


_AUTHOR_TEXT = etree.XPath("//text()[starts-with(normalize-space(.), '作者')]")
_NOT_A_HEADING = re.compile(
    r"作者|来源|编辑|记者|日期|发布|浏览|\d{4}[-年/.]\d|第\s*\w+\s*版|[。！？]"
)


def _beside(title_el, before: bool) -> str:
    """引题/副题 on an unknown page: the short line printed right above or below
    the title in the same container, if it reads as a headline."""
    if title_el is None:
        return ""
    el = title_el.getprevious() if before else title_el.getnext()
    if (
        el is None
        or el.tag not in ("p", "div", "span", "h2", "h3", "h4", "h5", "h6")
        or el.find(".//a") is not None
    ):
        return ""
    text = _heading_text(el)
    return text if len(text) <= 60 and not _NOT_A_HEADING.search(text) else ""


# ---------------------------------------------------------------- text of elements
def _raw_text(el, exclude=frozenset(), block_sep="\n\n") -> str:
    """Text of an element: <br> as BR, block elements separated by block_sep,
    scripts, images and excluded subtrees left out."""
    parts: list[str] = []

    def walk(e):
        tag = e.tag if isinstance(e.tag, str) else ""
        if e in exclude or tag in SKIP_TAGS or not tag:
            pass
        elif tag == "br":
            parts.append(BR)
        else:
            block = tag in BLOCK_TAGS
            if block:
                parts.append(block_sep)
            if e.text:
                parts.append(e.text)
            for child in e:
                walk(child)
            if block:
                parts.append(block_sep)
        if e.tail and e is not el:
            parts.append(e.tail)

    walk(el)
    return "".join(parts)


_SOURCE_BREAK = re.compile(r"[ \t\r\f]*\n[ \t\r\f\n]*")


def _resolve_source_breaks(text: str) -> str:
    """A newline in HTML source is collapsible whitespace: the CMS wrapped a
    long line, so it joins like a printed line break (a space between Latin
    words only)."""
    pieces = _SOURCE_BREAK.split(text)
    out = pieces[0]
    for piece in pieces[1:]:
        if out and piece and needs_space(out[-1], piece[0]):
            out += " "
        out += piece
    return out


def _heading_text(el) -> str:
    # In a headline a line break separates phrases, so <br> reads as a space.
    text = _resolve_source_breaks(_raw_text(el, block_sep=" ")).replace(BR, " ")
    return clean_line(unicodedata.normalize("NFC", text))


def _block_paragraphs(body, exclude=frozenset(), nbsp=False) -> list[str]:
    """Each block element is a paragraph boundary; inside a block, <br> lines go
    through the CJK line repair (indentation and sentence ends decide)."""
    raw = unicodedata.normalize("NFC", _raw_text(body, exclude))
    paras: list[str] = []
    for block in raw.split("\n\n"):
        block = _resolve_source_breaks(block).replace(BR, "\n")
        if nbsp:  # 文汇报: a run of &nbsp; inside the text opens the next paragraph
            block = re.sub("[\xa0\u3000]{2,}", lambda m: "\n" + m.group(), block)
        paras.extend(split_paragraphs(block))
    return paras


# ---------------------------------------------------------------- images
_CAPTION_CLASS = re.compile(
    r"caption|pic|img|photo|image|figure|attachment|explain|font6|note", re.I
)
_FILENAME = re.compile(r"\.(?:jpe?g|png|gif|webp|bmp)$|^\d+$", re.I)
_DECORATION = re.compile(r"spacer|blank|icon|logo|\.gif$", re.I)  # layout gifs, not photos


def _images(bodies: list, extra: list, url: str):
    """Images of the article with their captions; also the caption elements, so
    the body text leaves them out. An extra image scope (div.attachment) may
    itself be the caption box; a body may not."""
    images, captions = [], set()
    scopes = [(b, b) for b in bodies] + [(e, e.getparent()) for e in extra]
    for scope, stop in scopes:
        for img in scope.iter("img"):
            src = (img.get("src") or img.get("data-src") or "").strip()
            if not src or _DECORATION.search(src):
                continue
            box = _caption_box(img, stop)
            caption = ""
            if box is not None:
                raw = _resolve_source_breaks(_raw_text(box, block_sep="\n")).replace(BR, "\n")
                caption = " ".join(split_paragraphs(raw))
                captions.add(box)
            if not caption:
                alt = clean_line(img.get("alt") or img.get("title") or "")
                caption = "" if _FILENAME.search(alt) else alt
            images.append({"url": urljoin(url, src), "caption": caption})
    return images, captions


def _caption_box(img, stop):
    """The element holding an image and its caption: a <figure>, a table, or a
    container whose class names a picture, below `stop`."""
    el = img.getparent()
    while el is not None and el is not stop:
        if el.tag in ("figure", "table") or _CAPTION_CLASS.search(el.get("class", "")):
            return el
        el = el.getparent()
    return None


# ---------------------------------------------------------------- JSON (解放日报)
def _from_json(content: str, url: str, warnings: list[str]) -> dict:
    try:
        art = json.loads(content)["article"]
    except (ValueError, KeyError, TypeError):
        warnings.append("article JSON unreadable")
        return {"paragraphs": []}
    body = _parse(f"<div>{art.get('content') or ''}</div>")
    try:
        pics = json.loads(art.get("pincurls") or "[]")
    except ValueError:
        pics = []
    images = [
        {
            "url": urljoin(url, p.get("url", "")),
            "caption": clean_line(p.get("ttile") or p.get("name") or ""),
        }
        for p in pics
        if isinstance(p, dict) and p.get("url")
    ]
    return {
        "title": _json_text(art.get("title")),
        "kicker": _json_text(art.get("introtitle")),
        "subtitle": _json_text(art.get("subtitle")),
        "author": _author(_json_text(art.get("author"))),
        "paragraphs": _block_paragraphs(body) if body is not None else [],
        "images": images,
    }


def _json_text(value) -> str:
    return clean_line(unicodedata.normalize("NFC", str(value or "")))


# ---------------------------------------------------------------- source line
def _split_source(paras: list[str]) -> tuple[str, list[str]]:
    """Take the source line out of the body: the dateline opening the story
    (新华社北京4月26日电, 本报讯（记者 XXX）), a byline paragraph (■本报记者 XXX),
    photo credits (新华社记者 XXX摄). Returns (source lines as printed, body)."""
    sources: list[str] = []
    body: list[str] = []
    dated = False  # one dateline per story; a later one is a quoted brief
    for p in paras:
        m = None if dated else DATELINE.match(p)
        if m:
            dated = True
            sources.append(m.group("src"))
            if p[m.end() :]:
                body.append(p[m.end() :])
        elif len(p) <= 48 and (BYLINE.match(p) or CREDIT.match(p)):
            sources.append(p.lstrip("■●□◆▲ "))
        else:
            body.append(p)
    return "\n".join(sources), body


def _names(source: str) -> str:
    """Reporter names from a source line: "本报讯（全媒体记者王建夫 徐文革）" →
    "王建夫 徐文革"; "本报记者 李晓明 文/摄" → "李晓明". A photographer's credit
    names no author."""
    for line in source.split("\n"):
        m = not CREDIT.match(line) and re.search(r"(?:记者|通讯员)\s*([^）)]*)", line)
        if m:
            names = ROLES.sub(" ", NAME_TAIL.sub("", m.group(1)))
            return " ".join(names.split())
    return ""


def _page(item: dict, label: str) -> tuple[int | None, str]:
    """Page number and name: the spider's, else the page's own "第01版：要闻"."""
    m = PAGE_LABEL.search(label)
    page_no = item.get("page_no")
    # A lettered label (A01版) numbers a page within its section, not in the edition.
    if page_no in (None, "") and m and not (m["prefix"] or m["suffix"]):
        page_no = m["number"]
    name = item.get("page_name") or (m["name"].strip() if m else "")
    return (int(page_no) if str(page_no or "").isdigit() else None), name
