"""The labelled article pages that measure clean, and the measuring.

Every page comes with its truth (kicker, title, subtitle, author, source,
paragraphs). Families the replica sites render (replica) are taken from
there: the article HTML exactly as a spider receives it, and Site.truth().
Families it does not render yet get pages written here after the markup in
shared/research/epaper-sites.md, around the replica's own stories (the same
truth generator), with the traps real pages carry: full-width and &nbsp;
indentation, text re-flowed from the page PDF with <br> in mid-sentence,
two-line headlines, photos with captions and credits, navigation, share and
copyright lines, metadata comments, paragraphs separated only by &nbsp; runs.

    python -m replica.labelled_clean     prints the table, ours beside trafilatura
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from datetime import date
from difflib import SequenceMatcher
from functools import cache
from html import escape

import trafilatura

from replica import FAMILIES as REPLICA_FAMILIES
from replica import build_site
from replica.edition import Edition, make_edition
from text.clean import clean_article

FIELDS = ("title", "kicker", "subtitle", "author", "source")
DATES = [date(2025, 4, 28), date(2025, 4, 29)]
HOST = "127.0.0.1:8000"
# Replica options that change the article markup: one site per skin.
REPLICA_VARIANTS = {
    "founder-new": [
        ("bcrb", {"skin": "swiper"}),
        ("shrb", {"skin": "chunkicon"}),
        ("xptb", {"skin": "layoutlist"}),
    ],
}
OWN_PAPERS = {
    "founder-classic": "pdtimes",
    "paperindex": "dzrb",
    "xmwb": "xmwb",
    "whb": "whb",
    "jfdaily": "jfdaily",
    # a "cloud paper" platform no skin describes: the trafilatura fallback
    "cloud": "jdb",
}


@dataclass
class Labelled:
    family: str
    origin: str  # "replica" or "written here"
    item: dict
    truth: dict


# ---------------------------------------------------------------- the set
@cache
def labelled_set() -> tuple[Labelled, ...]:
    """Every family the replica renders, as served, plus pages written here for
    every family (the traps the replica does not carry yet)."""
    pages: list[Labelled] = []
    for family in REPLICA_FAMILIES:
        for paper, options in REPLICA_VARIANTS.get(family, [(OWN_PAPERS.get(family, "bcrb"), {})]):
            pages += _replica_pages(family, paper, options)
    for family, paper in OWN_PAPERS.items():
        pages += _own_pages(family, paper)
    return tuple(pages)


def _replica_pages(family: str, paper: str, options: dict) -> list[Labelled]:
    site = build_site(family, paper, DATES[-1:], **options)
    out = []
    for day in site.dates:
        for a in site.truth(day)["articles"]:
            if a["kind"] != "news":
                continue
            res = site.resolve(a["url"], HOST)
            item = _item(
                paper,
                day,
                family,
                a["page_no"],
                a["page_name"],
                f"http://{HOST}{a['url']}",
                _decode(res.body, res.content_type),
                res.content_type.split(";")[0],
            )
            out.append(Labelled(family, "replica", item, _truth(a, item["html"])))
    return out


def _decode(body: bytes, content_type: str) -> str:
    """As the spiders decode: the header's charset if the bytes decode cleanly
    under it, else the meta tag's, else UTF-8 or GB18030, whichever decodes;
    GB2312/GBK labels read as GB18030."""
    labels = re.findall(rb"charset=[\"']?([\w-]+)", content_type.encode() + b" " + body[:1024])
    for label in [x.decode() for x in labels] + ["utf-8", "gb18030"]:
        codec = "gb18030" if label.lower() in ("gb2312", "gbk") else label
        try:
            return body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("utf-8", errors="replace")


def _item(paper, day, family, page_no, page_name, url, html, content_type="text/html") -> dict:
    return {
        "paper": paper,
        "date": day.isoformat(),
        "family": family,
        "page_no": page_no,
        "page_name": page_name,
        "url": url,
        "article_id": url.rsplit("/", 1)[-1].split(".")[0],
        "html": html,
        "content_type": content_type,
        "via": "list",
        "kind": "news",
        "list_title": "",
    }


def _truth(a: dict, page: str, credit: str = "") -> dict:
    """The contract's reading of a truth record for the page that prints it: the
    source line kept apart from the body (the replica prints it at the head of a
    paragraph), and a source or author the page does not print at all expected
    empty (a byline the story has but the page omits cannot be extracted)."""
    paras = list(a["paragraphs"])
    src = a["source"]
    at = next((i for i, p in enumerate(paras) if src and p.startswith(src)), None)
    if at is not None:
        rest = paras[at][len(src) :].strip()
        paras[at : at + 1] = [rest] if rest else []
    else:
        src = ""
    return {
        "kicker": a["kicker"],
        "title": a["title"],
        "subtitle": a["subtitle"],
        "author": a["author"] if a["author"] in page or a["author"] in src else "",
        "source": "\n".join(x for x in (src, credit) if x),
        "paragraphs": paras,
        "printed": list(a["paragraphs"]),  # as printed, source included
    }


# ---------------------------------------------------------------- pages written here
def _own_pages(family: str, paper: str) -> list[Labelled]:
    render = RENDER[family]
    out = []
    for day in DATES:
        ed: Edition = make_edition(paper, day, 4)
        n = 0
        for page in ed.pages:
            for story in page.stories:
                a = story.article
                if a.kind != "news":
                    continue
                n += 1
                rng = random.Random(f"clean:{family}:{day}:{n}")
                record = {k: getattr(a, k) for k in FIELDS} | {"paragraphs": list(a.paragraphs)}
                credit = ""
                if rng.random() < 0.3:
                    credit = f"本报记者 {rng.choice('王李张刘陈')}{rng.choice('伟芳敏静磊')} 摄"
                pic = _picture(rng, day, page.no, n, credit)
                html, url, ctype = render(rng, paper, day, page.no, page.name, n, record, pic)
                truth = _truth(record, html, credit if pic and pic["credit_in_body"] else "")
                out.append(
                    Labelled(
                        family,
                        "written here",
                        _item(paper, day, family, page.no, page.name, url, html, ctype),
                        truth,
                    )
                )
    return out


def _picture(rng, day, page_no, n, credit) -> dict | None:
    if rng.random() >= 0.4:
        return None
    caption = rng.choice(
        ["4月29日，市民在公园内游览。", "图为项目建设现场。", "参会人员认真听取讲解。"]
    )
    # Some papers print the credit in the caption, others as a body line under the photo.
    in_body = bool(credit) and rng.random() < 0.5
    full = caption + (" " + credit if credit and not in_body else "")
    return {
        "src": f"../../../images/{day:%Y-%m/%d}/{page_no:02d}/{n}_b.jpg",
        "caption": full,
        "credit": credit,
        "credit_in_body": in_body,
    }


def _wrap(text: str, width: int) -> list[str]:
    """Text as re-flowed from the page PDF: fixed-width lines, cut anywhere."""
    text = "\u3000\u3000" + text
    return [text[i : i + width] for i in range(0, len(text), width)]


def _body_html(rng, paras: list[str], pic: dict | None, style: str) -> str:
    """The body in one of the styles e-paper CMSs print."""
    if style == "p":  # <P>　　text</P>, indentation stored as U+3000
        body = "".join(f"<P>\u3000\u3000{escape(p)}</P>\n" for p in paras)
    elif style == "nbsp-br":  # one <P>, paragraphs as &nbsp;-indented lines
        body = (
            "<P>" + "<br>\n".join("&nbsp;&nbsp;&nbsp;&nbsp;" + escape(p) for p in paras) + "</P>\n"
        )
    elif style == "pdf":  # re-flowed from the PDF: <br> every column line
        width = rng.randint(13, 22)
        body = (
            "<P>"
            + "<br>".join("<br>".join(escape(x) for x in _wrap(p, width)) for p in paras)
            + "</P>\n"
        )
    else:  # "src-wrap": the CMS wrapped long lines in the HTML source
        body = "".join(
            "<p>\n  " + "\n  ".join(escape(x) for x in _wrap(p, 30)).lstrip() + "\n</p>\n"
            for p in paras
        )
    if pic:
        body = _pic_html(pic) + body
        if pic["credit_in_body"]:
            body += f"<P>{escape(pic['credit'])}</P>\n"
    if rng.random() < 0.3:
        body += "<P>（责任编辑：周静）</P>\n"
    return body


def _pic_html(pic: dict) -> str:
    return (
        f'<table class="pic" align="center"><tr><td><img src="{pic["src"]}" border="0"></td></tr>'
        f'<tr><td class="font6">{escape(pic["caption"])}</td></tr></table>\n'
    )


BOILER_TOP = (
    '<div class="nav"><a href="../../../paperindex.htm">返回首页</a> | <a href="#">往期回顾</a> | '
    '<a href="#">下一版</a></div>\n'
)
BOILER_END = (
    '<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a></div>\n'
    '<div class="prev-next"><a href="#">上一篇</a> <a href="#">下一篇</a></div>\n'
    '<div class="footer">版权所有 ©{name} 未经书面授权不得复制或建立镜像<br>'
    "沪ICP备05050403号</div>\n"
)


def _doc(title: str, body: str, charset: str = "gb2312") -> str:
    return (
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Type" '
        f'content="text/html; charset={charset}">'
        f"<title>{escape(title)}</title></head><body>\n{body}</body></html>\n"
    )


def _classic(rng, paper, day, page_no, page_name, n, a, pic):
    style = rng.choice(["p", "nbsp-br", "pdf", "src-wrap"])
    title = escape(a["title"]).replace(" ", "<br>", 1) if rng.random() < 0.5 else escape(a["title"])
    rows = "".join(f'<tr><td class="font02">{escape(x)}</td></tr>' for x in [a["kicker"]] if x)
    rows += f'<tr><td class="font01">{title}</td></tr>'
    rows += "".join(f'<tr><td class="font02">{escape(x)}</td></tr>' for x in [a["subtitle"]] if x)
    enp = (
        f"<!--enpproperty <articleid>{n}</articleid><date>{day} 09:28:27.0</date>"
        f"<author>{escape(a['author'])}</author><title>{escape(a['title'])}</title>"
        f"<introtitle>{escape(a['kicker'])}</introtitle><subtitle>{escape(a['subtitle'])}</subtitle>"
        f"<nodename>{page_name}</nodename>/enpproperty-->"
    )
    body = (
        BOILER_TOP + f'<table width="100%" class="wz"><tbody>{rows}\n<tr><td><div id="ozoom">{enp}'
        f"<founder-content><!--enpcontent-->\n{_body_html(rng, a['paragraphs'], pic, style)}"
        f"<!--/enpcontent--></founder-content></div></td></tr></tbody></table>\n"
        + BOILER_END.format(name="浦东时报社")
    )
    return (
        _doc(a["title"], body),
        f"http://www.pdtimes.com.cn/html/{day:%Y-%m/%d}/content_{n}.htm",
        "text/html",
    )


def _paperindex(rng, paper, day, page_no, page_name, n, a, pic):
    style = rng.choice(["nbsp-br", "pdf", "p"])
    heads = "".join(
        f'<div align="center"><font size="3">{escape(x)}</font></div>' for x in [a["kicker"]] if x
    )
    heads += f'<div align="center"><strong>{escape(a["title"])}</strong></div>'
    heads += "".join(
        f'<div align="center"><font size="3">{escape(x)}</font></div>' for x in [a["subtitle"]] if x
    )
    body = (
        f'<table id="table5"><tr><td>第{page_no:02d}版：{page_name}</td></tr></table>\n'
        f'<span id="contenttext">{heads}\n{_body_html(rng, a["paragraphs"], pic, style)}</span>\n'
        + BOILER_END.format(name="大众日报社")
    )
    return (
        _doc(a["title"], body),
        f"http://paper.dzwww.com/dzrb/content/{day:%Y%m%d}/Articel{page_no:02d}{n:03d}MT.htm",
        "text/html",
    )


def _xmwb(rng, paper, day, page_no, page_name, n, a, pic):
    paras = "".join(f'<p class="dzb-desc-box">{escape(p)}</p>\n' for p in a["paragraphs"])
    if pic:
        paras = (
            f'<div class="dzb-pic-box"><img src="{pic["src"]}"><p class="dzb-pic-title">'
            f"{escape(pic['caption'])}</p></div>\n" + paras
        )
        if pic["credit_in_body"]:
            paras += f'<p class="dzb-desc-box">{escape(pic["credit"])}</p>\n'
    author = f'<div class="dzb-author-box">作者：{escape(a["author"])}</div>' if a["author"] else ""
    body = (
        '<div class="dzb-enter-banmian"><span class="dzb-banmian-title">'
        f"第{page_no}版：{page_name}</span></div>\n"
        f'<div class="dzb-article"><div class="dzb-special-title-box">{escape(a["kicker"])}</div>\n'
        f'<h2 class="dzb-title-box">{escape(a["title"])}</h2>\n'
        f'<div class="dzb-sub-title-box">{escape(a["subtitle"])}</div>{author}\n'
        f'<div class="dzb-article-box">\n{paras}</div></div>\n' + BOILER_END.format(name="新民晚报")
    )
    return (
        _doc(a["title"], body, "utf-8"),
        f"https://paper.xinmin.cn/html/xmwb/{day}/{page_no}/{n}.html",
        "text/html",
    )


def _whb(rng, paper, day, page_no, page_name, n, a, pic):
    # 文汇报: one text run, paragraphs only separated by runs of &nbsp;
    text = "".join("&nbsp;" * rng.choice((2, 4)) + escape(p) for p in a["paragraphs"])
    if pic:
        text = (
            f'<p style="text-align:center"><img src="{pic["src"]}" '
            f'alt="{escape(pic["caption"])}"></p>' + text
        )
        if pic["credit_in_body"]:
            text += "&nbsp;&nbsp;" + escape(pic["credit"])
    author = f'<p class="author">{escape(a["author"])}</p>' if a["author"] else ""
    body = (
        f'<div class="news_header"><h3>{escape(a["kicker"])}</h3><h1>{escape(a["title"])}</h1>'
        f'<h2>{escape(a["subtitle"])}</h2>{author}<p class="time">{day}</p></div>\n'
        f'<div id="newsContent" class="news_content">{text}</div>\n'
        + BOILER_END.format(name="文汇报")
    )
    return (
        _doc(a["title"], body, "utf-8"),
        f"https://dzb.whb.cn/{day}/{page_no}/detail-{n}.html",
        "text/html",
    )


def _jfdaily(rng, paper, day, page_no, page_name, n, a, pic):
    content = "".join(f"<p>\u3000\u3000{escape(p)}</p>" for p in a["paragraphs"])
    pics = []
    if pic:
        pics = [
            {
                "url": f"https://img.shobserver.com/images/{day:%Y%m%d}/{n}.jpg",
                "name": "",
                "author": pic["credit"],
                "ttile": pic["caption"],
            }
        ]
        if pic["credit_in_body"]:
            content += f"<p>{escape(pic['credit'])}</p>"
    doc = {
        "article": {
            "id": n,
            "title": a["title"],
            "introtitle": a["kicker"],
            "subtitle": a["subtitle"],
            "author": a["author"],
            "content": content,
            "pincurls": json.dumps(pics, ensure_ascii=False),
        }
    }
    url = f"https://www.shobserver.com/staticsg/data/journal/{day}/{page_no}/article/{n}.json"
    return json.dumps(doc, ensure_ascii=False), url, "application/json"


def _cloud(rng, paper, day, page_no, page_name, n, a, pic):
    paras = "".join(f'<p style="text-indent:2em">{escape(p)}</p>\n' for p in a["paragraphs"])
    if pic:
        paras = (
            f'<figure><img src="{pic["src"]}">'
            f"<figcaption>{escape(pic['caption'])}</figcaption></figure>\n" + paras
        )
        if pic["credit_in_body"]:
            paras += f"<p>{escape(pic['credit'])}</p>\n"
    author = f"<span>作者：{escape(a['author'])}</span>" if a["author"] else ""
    body = (
        '<div class="header"><a href="/">嘉定报</a> <a href="#">往期</a></div>\n'
        '<div class="article-detail"><div class="article-top">'
        f'<p class="yt">{escape(a["kicker"])}</p>'
        f'<h1 class="article-title">{escape(a["title"])}</h1>'
        f'<p class="ft">{escape(a["subtitle"])}</p>'
        f'<div class="article-info">{author}<span>{day}</span>'
        f"<span>第{page_no:02d}版：{page_name}</span></div></div>\n"
        f'<div class="article-content">\n{paras}</div></div>\n' + BOILER_END.format(name="嘉定报社")
    )
    return (
        _doc(f"{a['title']}_嘉定报", body, "utf-8"),
        f"https://jdb.cloudpaper.cn/{day:%Y%m%d}/{page_no:02d}/{n}.html",
        "text/html",
    )


RENDER = {
    "founder-classic": _classic,
    "cloud": _cloud,
    "paperindex": _paperindex,
    "xmwb": _xmwb,
    "whb": _whb,
    "jfdaily": _jfdaily,
}


# ---------------------------------------------------------------- the systems
def ours(item: dict) -> dict:
    return clean_article(item)


def html_of(item: dict) -> str:
    """The page as trafilatura can read it: HTML (解放日报's JSON carries its body as HTML)."""
    if "json" not in item["content_type"]:
        return item["html"]
    art = json.loads(item["html"])["article"]
    return (
        f"<html><head><title>{escape(art['title'])}</title></head>"
        f"<body>{art['content']}</body></html>"
    )


def trafilatura_alone(item: dict) -> dict:
    """trafilatura.extract with its metadata, nothing of ours. It has no kicker,
    subtitle or source fields; its body is measured against the text as printed."""
    out = trafilatura.extract(
        html_of(item), url=item["url"], output_format="json", with_metadata=True
    )
    doc = json.loads(out) if out else {}
    paras = [p for p in (doc.get("text") or "").split("\n") if p.strip()]
    return {
        "title": doc.get("title") or "",
        "kicker": "",
        "subtitle": "",
        "author": doc.get("author") or "",
        "source": "",
        "paragraphs": paras,
        "printed": True,
    }


# ---------------------------------------------------------------- the measures
def char_f1(pred: str, truth: str) -> float:
    """Character-level F1 over the matching blocks of the two texts in order
    (whitespace ignored): a character counts once, where it is in sequence."""
    pred, truth = re.sub(r"\s", "", pred), re.sub(r"\s", "", truth)
    if not pred and not truth:
        return 1.0
    if not pred or not truth:
        return 0.0
    same = sum(
        b.size for b in SequenceMatcher(None, pred, truth, autojunk=False).get_matching_blocks()
    )
    p, r = same / len(pred), same / len(truth)
    return 2 * p * r / (p + r) if same else 0.0


def evaluate(system, pages=None) -> dict:
    pages = labelled_set() if pages is None else pages
    exact = {f: 0 for f in FIELDS}
    f1s, para_exact, failures = [], 0, []
    for page in pages:
        got, t = system(page.item), page.truth
        for f in FIELDS:
            if got.get(f, "") == t[f]:
                exact[f] += 1
            elif system is ours:
                failures.append((page.family, page.item["url"], f, got.get(f, ""), t[f]))
        reference = t["printed"] if got.get("printed") else t["paragraphs"]
        f1s.append(char_f1("\n".join(got["paragraphs"]), "\n".join(reference)))
        para_exact += got["paragraphs"] == reference
    n = len(pages)
    return {
        "pages": n,
        **{f: exact[f] / n for f in FIELDS},
        "body_f1": sum(f1s) / n,
        "body_f1_min": min(f1s),
        "paragraphs_exact": para_exact / n,
        "failures": failures,
    }


def table(results: dict[str, dict]) -> str:
    """Metrics as rows, systems as columns."""
    names = list(results)
    rows = [
        ("pages", "{:d}"),
        *((f, "{:.3f}") for f in FIELDS),
        ("body_f1", "{:.4f}"),
        ("body_f1_min", "{:.4f}"),
        ("paragraphs_exact", "{:.3f}"),
    ]
    width = max(14, *(len(n) for n in names))
    lines = [f"{'metric':<17}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for key, fmt in rows:
        lines.append(
            f"{key:<17}" + "".join(f"{fmt.format(results[n][key]):>{width + 2}}" for n in names)
        )
    return "\n".join(lines)


def by_family() -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in labelled_set():
        counts[f"{p.family} ({p.origin})"] = counts.get(f"{p.family} ({p.origin})", 0) + 1
    return counts


if __name__ == "__main__":
    print(by_family())
    res = {"ours": evaluate(ours), "trafilatura.extract": evaluate(trafilatura_alone)}
    print(table(res))
    for fail in res["ours"]["failures"][:30]:
        print(fail)
