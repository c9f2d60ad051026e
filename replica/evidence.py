"""Editions rebuilt from a paper's own public crawler code (replica/data/evidence.yaml):
the page-list, article-list and headline selectors that code records, each realised as
the smallest markup it matches, on the paper's own URL shapes. Nothing here reads our
spiders' selectors: a family spider that finds every page and article of such an edition
fits the paper's markup as its evidence knows it (bench/fit_table.py, docs/fit.md).

A selector is realised by nesting one element per step (`//div[@class="x"]/ul/li/a`:
div.x > ul > li > a), a positional step `[n]` after n-1 empty siblings; the innermost
list element (li, tr, td, dt, dd, p, or else the link) repeats once per entry. Every
realised list is checked with the selector itself (parsel) before it is served.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from datetime import date
from html import escape
from importlib import resources

import yaml
from parsel import Selector

from .site import Resource, html_doc

REPEATED = ("li", "tr", "td", "dt", "dd", "p")
TARGET_ATTRS = ("href", "alt", "data-href")
LINKS = ("a", "area")  # an image map's hotspots link too
PAGE_NAMES = ("要闻", "综合", "经济", "文化")
ARTICLES_PER_PAGE = 3


class Unrebuildable(ValueError):
    """A selector this module cannot realise as markup (a regex, a bs4 call, an axis)."""


@dataclass
class Step:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    nth: int | None = None


_XSTEP = re.compile(r"^(\*|[A-Za-z][\w-]*)((?:\[[^\]]*\])*)$")
_XPRED = re.compile(
    r"""^\s*(?:@([\w-]+)\s*=\s*["']([^"']*)["']"""
    r"""|(contains|starts-with)\(\s*@([\w-]+)\s*,\s*["']([^"']*)["']\s*\)"""
    r"""|@([\w-]+)|(\d+))\s*$"""
)


def parse_xpath(sel: str) -> tuple[list[Step], str]:
    """The steps of a simple XPath to a link, and the attribute that holds its target."""
    sel = sel.strip().removeprefix(".")
    target = "href"
    if m := re.search(r"/+(@[\w-]+|text\(\)|string\(\))$", sel):
        target = m.group(1)[1:] if m.group(1).startswith("@") else "href"
        sel = sel[: m.start()]
    if not sel.startswith("/"):
        raise Unrebuildable(f"not an absolute XPath: {sel!r}")
    steps = []
    for raw in re.split(r"/+", sel.lstrip("/")):
        m = _XSTEP.match(raw)
        if not m:
            raise Unrebuildable(f"XPath step {raw!r}")
        step = Step("div" if m.group(1) == "*" else m.group(1).lower())
        for pred in re.findall(r"\[([^\]]*)\]", m.group(2)):
            p = _XPRED.match(pred)
            if not p:
                raise Unrebuildable(f"XPath predicate [{pred}]")
            if p.group(1):
                step.attrs[p.group(1)] = p.group(2)
            elif p.group(3):
                step.attrs[p.group(4)] = p.group(5)
            elif p.group(6):
                step.attrs[p.group(6)] = "x"
            else:
                step.nth = int(p.group(7))
        steps.append(step)
    return steps, target


_CSTEP = re.compile(
    r"^([A-Za-z][\w-]*|\*)?((?:[#.][\w-]+|\[[^\]]+\]|:nth-(?:child|of-type)\(\d+\))*)$"
)


def parse_css(sel: str) -> tuple[list[Step], str]:
    """The steps of a simple CSS selector to a link, and its target attribute."""
    sel = sel.strip()
    target = "href"
    if m := re.search(r"::(attr\(([\w-]+)\)|text)$", sel):
        target = m.group(2) or "href"
        sel = sel[: m.start()]
    steps = []
    for raw in sel.replace(">", " ").split():
        m = _CSTEP.match(raw)
        if not m or not raw:
            raise Unrebuildable(f"CSS step {raw!r}")
        step = Step((m.group(1) or "div").replace("*", "div").lower())
        for part in re.findall(r"[#.][\w-]+|\[[^\]]+\]|:nth-(?:child|of-type)\(\d+\)", m.group(2)):
            if part[0] == "#":
                step.attrs["id"] = part[1:]
            elif part[0] == ".":
                step.attrs["class"] = " ".join(filter(None, [step.attrs.get("class"), part[1:]]))
            elif part[0] == "[":
                name, _, value = part[1:-1].partition("=")
                step.attrs[name.strip()] = value.strip("\"' ") or "x"
            else:
                step.nth = int(re.search(r"\d+", part).group())
        steps.append(step)
    return steps, target


def joined(sel: str) -> str:
    """One XPath from an outer selector and the relative one applied to each of its matches
    (written `outer > ./inner` in the evidence file)."""
    outer, *rest = sel.split(" > ")
    for inner in rest:
        inner = inner.strip()
        outer += inner[1:] if inner.startswith(".//") else "/" + inner.removeprefix("./")
    return outer


def parse(spec: dict) -> tuple[list[Step], str]:
    kind, sel = spec.get("kind"), spec.get("sel")
    if kind == "xpath":
        return parse_xpath(joined(sel))
    if kind == "css":
        return parse_css(sel)
    if kind == "regex":  # the code matches URLs only: the links may sit in any markup
        return [Step("div"), Step("a")], "href"
    raise Unrebuildable(f"{kind} selector")


def _open(step: Step) -> str:
    attrs = "".join(f' {k}="{escape(v)}"' for k, v in step.attrs.items())
    return f"<{step.tag}{attrs}>"


def _wrap(step: Step, inner: str) -> str:
    """`inner` inside `step`, after the empty siblings its position `[n]` asks for."""
    siblings = (_open(step) + f"</{step.tag}>") * ((step.nth or 1) - 1)
    return siblings + _open(step) + inner + f"</{step.tag}>"


def _repeated(steps: list[Step]) -> int:
    """The step that repeats once per entry: the innermost list element, else the innermost
    step with a class (never an id: ids are unique), else the link; a positional step's
    parent, so that every copy keeps its position."""
    at = max((i for i, s in enumerate(steps) if s.tag in REPEATED), default=None)
    if at is None:
        classed = [i for i, s in enumerate(steps) if "class" in s.attrs and "id" not in s.attrs]
        at = classed[-1] if classed else len(steps) - 1
    while at > 0 and steps[at].nth:
        at -= 1
    return at


def _table_parents(steps: list[Step]) -> list[Step]:
    """The parser drops table parts outside a table: give them their parents."""
    out: list[Step] = []
    for s in steps:
        before = out[-1].tag if out else ""
        if s.tag in ("tr", "td") and before not in ("table", "tbody", "thead", "tr"):
            out.append(Step("table"))
            before = "table"
        if s.tag == "td" and before != "tr":
            out.append(Step("tr"))
        if before == "tr" and s.tag not in ("td", "th"):
            out.append(Step("td"))
        out.append(s)
    return out


def realise(steps: list[Step], target: str, entries: list[tuple[str, str]]) -> str:
    """Markup in which `steps` select the link of every (href, text) entry, in order."""
    steps = _table_parents(steps if steps[-1].tag in LINKS else [*steps, Step("a")])
    at = _repeated(steps)
    outer, inner = steps[:at], steps[at:]

    def item(href: str, text: str) -> str:
        attrs = dict(inner[-1].attrs)
        attrs[target if target in TARGET_ATTRS else "href"] = href
        if target != "href":
            attrs.setdefault("href", "javascript:void(0)")
        tag = inner[-1].tag
        html = _open(Step(tag, attrs)) + escape(text) + f"</{tag}>"
        html = (_open(inner[-1]) + f"</{tag}>") * ((inner[-1].nth or 1) - 1) + html
        for s in reversed(inner[:-1]):
            html = _wrap(s, html)
        return html

    html = "\n".join(item(h, t) for h, t in entries)
    for s in reversed(outer):
        html = _wrap(s, html)
    return html


def selected(html: str, spec: dict, absolute) -> list[str]:
    """What the evidence's own selector takes from `html`: the targets, or for a URL regex
    (alone, or `allow` within a region) the hrefs whose original absolute URL it matches."""
    doc = Selector(text=html)
    sel, kind = spec["sel"], spec["kind"]
    if kind == "regex":
        got = doc.xpath("//a/@href").getall()
    elif kind == "css":
        got = doc.css(sel if "::" in sel else sel + "::attr(href)").getall()
    else:
        sel = joined(sel)
        if not re.search(r"/@[\w-]+$", sel):  # the links, or the links of a region
            sel += "/@href" if parse_xpath(sel)[0][-1].tag in LINKS else "//a/@href"
        got = doc.xpath(sel).getall()
    pattern = spec["sel"] if kind == "regex" else spec.get("allow")
    if pattern:
        got = [g for g in got if re.search(pattern, absolute(g))]
    return [g.strip() for g in got]


def main_selector(spec: dict | list) -> dict:
    """A role's selector; of a list of fallbacks, the first (the code's main one)."""
    return spec[0] if isinstance(spec, list) else spec


def realise_checked(spec: dict, entries: list[tuple[str, str]], absolute) -> str:
    """The markup of `entries` for `spec`, checked by the spec's own selector; `absolute`
    gives an href's URL on the paper's real site (what a URL regex is matched against)."""
    spec = main_selector(spec)
    steps, target = parse(spec)
    html = realise(steps, target, entries)
    if selected(html, spec, absolute) != [h for h, _ in entries]:
        raise Unrebuildable(f"realised markup does not give back its links: {spec['sel']!r}")
    return html


# --- an edition on the paper's URL shapes -------------------------------------------------


def page_path(first: str, no: int) -> str:
    """Page `no`'s path, from the first page's: the path's last number counts up from the
    first's, its width kept (node_2.htm, node_A01.html, Page01JQ.htm, 2025-04-28/1/index.html,
    nbs.D110000renmrb_01.htm, col01.html)."""
    found = list(re.finditer(r"\d+", first))
    if not found:
        raise Unrebuildable(f"no page number in {first!r}")
    last = found[-1]
    number = int(last.group()) + no - 1
    return first[: last.start()] + f"{number:0{len(last.group())}d}" + first[last.end() :]


# Where an article sits, relative to its page's folder, when the evidence shows no example.
DEFAULT_ARTICLE_HREF = {
    "founder-classic": "content_{id}.htm",
    "founder-new": "../../../content/{ym}/{d}/content_{id}.html",
    "paperindex": "Articel{nn}{k:03d}JQ.htm",
    "whb": "detail-{id}.html",
}


@dataclass
class RebuiltEdition:
    """One paper's edition of `day` as its evidence's selectors see it, served on the
    paper's own paths below `/{key}/`."""

    key: str
    family: str
    edition_url: str
    spec: dict
    day: date
    pages: int = 4
    routes: dict[str, Resource] = field(default_factory=dict)
    truth: dict = field(default_factory=dict)

    def __post_init__(self):
        url = self.edition_url.format(date=self.day)
        origin = re.match(r"^[a-z]+://[^/]+", url)
        self.origin = origin.group() if origin else ""
        path, _, query = url.removeprefix(self.origin).partition("?")
        self.first_path = f"/{self.key}{path}" + (f"?{query}" if query else "")
        template = self.spec.get("article_href") or DEFAULT_ARTICLE_HREF.get(self.family)
        if not template:
            raise Unrebuildable(f"no article URL shape for family {self.family}")
        label = self.spec.get("label") or "第{nn}版：{name}"
        pages, articles = [], []
        for no in range(1, self.pages + 1):
            name = PAGE_NAMES[(no - 1) % len(PAGE_NAMES)]
            pages.append({"no": no, "name": name, "path": f"/{self.key}{page_path(path, no)}"})
            folder = pages[-1]["path"].rsplit("/", 1)[0]
            for k in range(1, ARTICLES_PER_PAGE + 1):
                n = (no - 1) * ARTICLES_PER_PAGE + k
                href = template.format(
                    id=1000 + n, ym=f"{self.day:%Y%m}", d=f"{self.day:%d}", nn=f"{no:02d}", k=k
                )
                articles.append(
                    {
                        "page_no": no,
                        "href": href,
                        "path": _normpath(f"{folder}/{href}"),
                        "title": f"全市重点项目建设稳步推进（之{n}）",
                    }
                )
        self.truth = {"pages": pages, "articles": articles}
        for p in pages:
            folder = p["path"].rsplit("/", 1)[0]

            def absolute(href: str, folder=folder) -> str:
                return self.origin + _normpath(f"{folder}/{href}").removeprefix(f"/{self.key}")

            page_links = [
                (
                    posixpath.relpath(q["path"], folder) + (f"?{query}" if query else ""),
                    label.format(nn=f"{q['no']:02d}", name=q["name"]),
                )
                for q in pages
            ]
            mine = [(a["href"], a["title"]) for a in articles if a["page_no"] == p["no"]]
            body = (
                realise_checked(self.spec["pages"], page_links, absolute)
                + "\n"
                + realise_checked(self.spec["articles"], mine, absolute)
            )
            self.routes[p["path"]] = Resource(html_doc(f"数字报 {p['name']}", body).encode())
        for a in articles:
            self.routes[a["path"]] = Resource(self.article_html(a).encode())

    def article_html(self, article: dict) -> str:
        text = "".join(f"<p>　　{article['title']}的正文第{i}段，记者报道。</p>" for i in (1, 2, 3))
        body = self.spec.get("body")
        if body:  # the text's container: the selector without its paragraph or text steps
            sel = re.sub(r"(/+(p|text\(\)|@[\w-]+))+$", "", joined(body["sel"]))
            text = _inside(parse({"sel": sel, "kind": "xpath"})[0], text)
        else:
            text = f"<div>{text}</div>"
        title = escape(article["title"])
        spec = self.spec.get("title")
        title = _inside(parse(spec)[0], title) if spec else f"<h1>{title}</h1>"
        return html_doc("数字报", f"{title}\n{text}")

    # what ReplicaServer asks of a site
    @property
    def paper(self) -> str:
        return self.key

    @property
    def dates(self) -> list[date]:
        return []

    def robots_disallowed(self) -> list[str]:
        return []

    def resolve(self, path: str, host: str) -> Resource | None:
        return self.routes.get(path) or self.routes.get(path.split("?", 1)[0])


def _inside(steps: list[Step], html: str) -> str:
    """`html` as the content of the element `steps` select (a table part gets its cell)."""
    steps = _table_parents(steps)
    if steps[-1].tag in ("table", "tbody", "tr"):
        steps += [Step("tr"), Step("td")] if steps[-1].tag != "tr" else [Step("td")]
    for s in reversed(steps):
        html = _wrap(s, html)
    return html


def _normpath(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/" + "/".join(parts)


def load() -> dict[str, dict]:
    """Each catalogue entry's (or era's, `id@n`) selectors, as its evidence records them."""
    text = resources.files(__package__).joinpath("data", "evidence.yaml").read_text("utf-8")
    return yaml.safe_load(text)
