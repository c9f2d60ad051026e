"""A replica e-paper site: editions laid out by a family renderer, served by path.

A `Site` owns a set of editions of one paper and a `Renderer` that decides the URLs
and the HTML of one CMS family. Routes are resolved lazily, per request, so the
protocol-relative links of some families can name the host the client used, and an
edited article is served changed from then on.
"""

from __future__ import annotations

import hashlib
import posixpath
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from html import escape
from typing import Callable

from .edition import Edition, Page, Story, make_edition, paper_info
from .faults import Fault, billion_laughs, malformed, offsite_host, relabel
from .pageimage import page_image, zone_coords
from .pdf import inflating_pdf, page_pdf

CST = timezone(timedelta(hours=8))


@dataclass
class Resource:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    fault: str | None = None  # what the server does on the wire: reset, truncate, timeout, unsized


@dataclass
class Slot:
    """Where one story sits in one edition."""

    edition: Edition
    page: Page
    story: Story
    id: str  # the article id in its URL
    path: str = ""


Route = Callable[[str], Resource]  # called with the Host the client asked for


class Renderer:
    """One CMS family's URL scheme and HTML. Subclasses fill in the hooks."""

    family = ""
    default_options: dict = {}
    # The shapes real sites of the family take (option name -> its values, the default
    # first): option `variant=seed` draws one of each, so a seed is one site of the family.
    variants: dict[str, tuple] = {}
    has_hotspots = True  # False: the site lists every story, none is hotspot-only

    def __init__(self, site: Site):
        self.site = site
        drawn = {}
        if site.options.get("variant") is not None:
            rng = random.Random(f"variant:{self.family}:{site.options['variant']}")
            drawn = {name: rng.choice(values) for name, values in sorted(self.variants.items())}
        self.opt = {**self.default_options, **drawn, **site.options}

    # URL scheme -----------------------------------------------------------
    edition_url_template = ""

    def page_path(self, ed: Edition, page: Page) -> str:
        raise NotImplementedError

    def article_path(self, slot: Slot) -> str:
        raise NotImplementedError

    def pdf_path(self, ed: Edition, page: Page) -> str:
        raise NotImplementedError

    def image_path(self, ed: Edition, page: Page) -> str | None:
        """The scanned page image its image map is drawn on; None: the site shows none."""
        return None

    def article_ids(self, ed: Edition) -> list[str]:
        """Non-sequential ids, as CMSs hand them out across all their papers."""
        rng = random.Random(f"ids:{self.site.paper}:{ed.date.isoformat()}")
        n, out = rng.randint(10_000, 900_000), []
        for _ in range(sum(len(p.stories) for p in ed.pages)):
            n += rng.randint(1, 40)
            out.append(str(n))
        return out

    # HTML -----------------------------------------------------------------
    def render_page(self, ed: Edition, page: Page, host: str) -> Resource:
        raise NotImplementedError

    def render_article(self, slot: Slot, host: str) -> Resource:
        raise NotImplementedError

    def extra_routes(self) -> dict[str, Route]:
        """Calendars, index pages, traps."""
        return {}

    def dynamic(self, path: str, host: str) -> Resource | None:
        """Paths without a fixed route (endless trap pages)."""
        return None

    def missing_redirect(self, day: date) -> dict[str, Route]:
        """A date without edition that answers 301 to the site root."""
        path = self.site.url_for(day)
        return {path: lambda host: Resource(status=301, headers={"Location": f"http://{host}/"})}

    # helpers --------------------------------------------------------------
    def pages_of(self, ed: Edition) -> list[tuple[Page, str]]:
        return [(p, self.site.page_paths[ed.date][p.no]) for p in ed.pages]

    def slots_of(self, page: Page) -> list[Slot]:
        return [s for s in self.site.slots.values() if s.page is page]

    def hotspots(self, page: Page, here: str) -> list[tuple[str, str]]:
        """(relative href, polygon coords) per story of the page, stacked down the page
        image; on the front page also a hotspot into the path robots.txt forbids."""
        out = []
        for i, slot in enumerate(self.slots_of(page)):
            y0, y1 = 40 + i * 180, 200 + i * 180
            out.append((self.rel(here, slot.path), f"20,{y0},460,{y0},460,{y1},20,{y1}"))
        if page.no == 1 and self.site.robots_trap:
            out.append(
                (
                    self.rel(here, self.site.private_path(page_date(self.site, page))),
                    "0,0,9,0,9,9,0,9",
                )
            )
        return out

    def link(self, from_path: str, to_path: str, host: str) -> str:
        """A link as the variant's site writes them (option `links`): relative (the
        default), root-relative or absolute."""
        style = self.opt.get("links", "relative")
        if style == "root":
            return to_path
        if style == "absolute":
            return f"http://{host}{to_path}"
        return self.rel(from_path, to_path)

    @staticmethod
    def rel(from_path: str, to_path: str) -> str:
        """The relative link from one page to another, as the CMSs write them."""
        src, dst = from_path.split("/")[1:-1], to_path.split("/")[1:]
        common = 0
        while common < min(len(src), len(dst) - 1) and src[common] == dst[common]:
            common += 1
        return "../" * (len(src) - common) + "/".join(dst[common:])


def page_date(site: Site, page: Page) -> date:
    return next(d for d, ed in site.editions.items() if page in ed.pages)


def encode(text: str, charset: str) -> bytes:
    """GBK sites: bytes in GBK whatever the label says (gb2312 labels hide GBK-only
    characters such as 镕 喆 堃)."""
    return text.encode("gbk" if charset.lower() in ("gb2312", "gbk") else charset)


def html_doc(title: str, body: str, charset: str = "utf-8", head: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


class Site:
    """One paper's replica on one CMS family: its editions, their URLs, its ground
    truth. Build it with `replica.build_site`; serve it with `ReplicaServer`."""

    def __init__(
        self, family: str, paper: str, dates: list[date], renderer: type[Renderer], **options
    ):
        self.family = family
        self.paper = paper
        self.dates = sorted(dates)
        self.options = options
        self.pages = options.get("pages", 4)
        after = self.dates[-1] if self.dates else date(2025, 4, 28)
        # Dates without an edition: one answers 404, the other a 301 to the root (or 403, 410).
        self.missing: dict[date, int] = options.get(
            "missing", {after + timedelta(days=1): 404, after + timedelta(days=2): 301}
        )
        self.renderer = renderer(self)
        masthead = self.renderer.opt.get("masthead", False)
        self.editions = {
            d: make_edition(paper, d, self.pages, masthead=masthead) for d in self.dates
        }
        if not self.renderer.has_hotspots:
            for story in (s for ed in self.editions.values() for p in ed.pages for s in p.stories):
                story.hidden = False
        self.page_paths: dict[date, dict[int, str]] = {}
        self.pdf_paths: dict[date, dict[int, str]] = {}
        self.image_paths: dict[date, dict[int, str | None]] = {}
        self.slots: dict[str, Slot] = {}  # by path
        self.routes: dict[str, Route] = {}
        self.modified: dict[str, datetime] = {}
        self.busy: dict[str, int] = {}  # path -> how many more times to answer 429
        self._layout()
        self.faults: dict[str, Fault] = {}  # path -> its fault (replica/faults.py)
        self.set_faults(options.get("faults", {}))

    # layout ---------------------------------------------------------------
    def _layout(self) -> None:
        r = self.renderer
        for d, ed in self.editions.items():
            self.page_paths[d] = {p.no: r.page_path(ed, p) for p in ed.pages}
            self.pdf_paths[d] = {p.no: r.pdf_path(ed, p) for p in ed.pages}
            self.image_paths[d] = {p.no: r.image_path(ed, p) for p in ed.pages}
            ids = iter(r.article_ids(ed))
            for page in ed.pages:
                for story in page.stories:
                    slot = Slot(ed, page, story, next(ids))
                    slot.path = r.article_path(slot)
                    self.slots[slot.path] = slot
                    self.routes[slot.path] = lambda host, s=slot: r.render_article(s, host)
                self.routes[self.page_paths[d][page.no]] = lambda host, e=ed, p=page: r.render_page(
                    e, p, host
                )
                self.routes[self.pdf_paths[d][page.no]] = lambda host, e=ed, p=page: Resource(
                    page_pdf(self.name, e.date, p), "application/pdf"
                )
                if self.image_paths[d][page.no]:
                    self.routes[self.image_paths[d][page.no]] = lambda host, p=page: Resource(
                        page_image(tuple(self.zones(p).values())), "image/jpeg"
                    )
        for day, status in self.missing.items():
            if status == 301:
                self.routes.update(r.missing_redirect(day))
            elif status != 404:  # 403, 410: some sites refuse rather than deny
                self.routes[self.url_for(day)] = lambda host, s=status: Resource(
                    f"{s}".encode(), "text/plain", status=s
                )
        self.routes.update(r.extra_routes())
        slots = [
            s for s in self.slots.values() if s.story.article.kind == "news" and not s.story.hidden
        ]
        for slot in slots[1 : 1 + self.options.get("busy", 0)]:
            self.busy[slot.path] = 1

    # public API -----------------------------------------------------------
    @property
    def name(self) -> str:
        return paper_info(self.paper)[0]

    @property
    def edition_url_template(self) -> str:
        return self.renderer.edition_url_template

    @property
    def robots_trap(self) -> bool:
        """Whether the front page links (by hotspot) into the path robots.txt forbids."""
        return self.renderer.has_hotspots and self.renderer.opt.get("robots_trap", True)

    def url_for(self, day: date) -> str:
        return self.edition_url_template.format(date=day)

    def paper_entry(self, base_url: str) -> dict:
        name, region, _ = paper_info(self.paper)
        return {
            "id": self.paper,
            "name": name,
            "region": region,
            "family": self.family,
            "edition_url": base_url.rstrip("/") + self.edition_url_template,
            "schedule": "30 6 * * *",
            "timezone": "Asia/Shanghai",
        }

    def truth(self, day: date) -> dict:
        if day not in self.editions:
            return {"pages": [], "articles": [], "missing": self.missing.get(day, 404)}
        ed = self.editions[day]
        pages = [
            {
                "page_no": p.no,
                "page_name": p.name,
                "url": self.page_paths[day][p.no],
                "pdf_url": self.pdf_paths[day][p.no],
                "image_url": self.image_paths[day][p.no],
                "kind": p.kind,
            }
            for p in ed.pages
        ]
        articles = []
        zones = {path: zone for p in ed.pages for path, zone in self.zones(p).items()}
        for s in self.slots.values():
            if s.edition is ed:
                a = s.story.article
                zone = zones.get(s.path)
                articles.append(
                    {
                        "url": s.path,
                        "page_no": s.page.no,
                        "page_name": s.page.name,
                        "kicker": a.kicker,
                        "title": a.title,
                        "subtitle": a.subtitle,
                        "author": a.author,
                        "source": a.source,
                        "paragraphs": list(a.paragraphs),
                        "kind": a.kind,
                        "hidden": s.story.hidden,
                        # where its hotspot lies on the page image, as the spider reads it
                        "zone": zone and {"shape": "poly", "coords": list(zone)},
                    }
                )
        return {"pages": pages, "articles": articles}

    def zones(self, page: Page) -> dict[str, tuple[int, ...]]:
        """Path -> the polygon of each hotspot of a page that shows its image (the front
        page's robots.txt trap too); {} for a page without."""
        day = page_date(self, page)
        if not (self.renderer.has_hotspots and self.image_paths[day][page.no]):
            return {}
        here = self.page_paths[day][page.no]
        folder = here.rsplit("/", 1)[0] + "/"
        return {
            posixpath.normpath(folder + href): tuple(zone_coords(coords))
            for href, coords in self.renderer.hotspots(page, here)
        }

    def edit_article(self, day: date, url: str, new_paragraphs: list[str]) -> None:
        slot = self.slots[url]
        if slot.edition.date != day:
            raise KeyError(f"{url} is not in the edition of {day}")
        slot.story.article = slot.story.article.with_(paragraphs=tuple(new_paragraphs))
        self.modified[url] = datetime.now(timezone.utc).replace(microsecond=0)

    def resolve(self, path: str, host: str) -> Resource | None:
        """The answer for a request path (query included: some sites route by it)."""
        full = path
        route = self.routes.get(path) or self.routes.get(path.split("?", 1)[0])
        path = path if path in self.routes else path.split("?", 1)[0]
        fault = self.faults.get(path) or self.faults.get(path.split("?", 1)[0])
        if fault is not None and fault.kind not in ("offsite", "robots") and fault.take():
            early = self._fault_answer(fault, full, host)
            if early is not None:
                return early
        else:
            fault = None
        if route is None:
            return self.renderer.dynamic(path, host)
        if self.busy.get(path):
            self.busy[path] -= 1
            return Resource(b"busy", "text/plain", status=429, headers={"Retry-After": "1"})
        res = route(host)
        if res.last_modified is None:
            res.last_modified = self.modified.get(path) or self._published(path)
        res = self._offsite_links(path, res, host)
        return self._fault_body(fault, res) if fault is not None else res

    # faults ---------------------------------------------------------------
    def set_faults(self, faults: dict[str, str | int]) -> None:
        """Replace the site's faults ({} heals it); see replica/faults.py."""
        resolved: dict[str, Fault] = {}
        for target, spec in faults.items():
            for path in self.fault_paths(target):
                resolved[path] = Fault.parse(spec)
        self.faults = resolved

    def fault_paths(self, target: str) -> list[str]:
        """The paths a fault target names, over all editions."""
        kind, _, arg = target.partition(":")
        if target.startswith("/"):
            return [target]
        if target == "edition":
            return [self.url_for(d) for d in self.dates]
        if kind in ("page", "pdf") and arg.isdigit():
            table = self.page_paths if kind == "page" else self.pdf_paths
            return [paths[int(arg)] for paths in table.values() if int(arg) in paths]
        if kind == "article" and arg.isdigit():
            out = []
            for ed in self.editions.values():
                listed = [
                    s
                    for s in self.slots.values()
                    if s.edition is ed and s.story.article.kind == "news" and not s.story.hidden
                ]
                if int(arg) < len(listed):
                    out.append(listed[int(arg)].path)
            return out
        raise ValueError(
            f"bad fault target {target!r}: edition, page:N, pdf:N, article:N or a /path"
        )

    def fault_kinds(self) -> dict[str, str]:
        """path -> fault kind, as set now."""
        return {path: f.kind for path, f in self.faults.items()}

    def robots_disallowed(self) -> list[str]:
        return [f"/{self.paper}/private/"] + [
            p for p, f in self.faults.items() if f.kind == "robots"
        ]

    def _fault_answer(self, fault: Fault, full: str, host: str) -> Resource | None:
        """The answer that replaces the page, or None when the page is served (and altered)."""
        status = fault.status
        if status == 301:
            return Resource(status=301, headers={"Location": f"http://{host}/"})
        if status is not None:
            headers = (
                {"Retry-After": str(self.options.get("fault_retry_after", "1"))}
                if status in (429, 503)
                else {}
            )
            return Resource(f"{status}".encode(), "text/plain", status=status, headers=headers)
        if fault.kind == "redirect_loop":
            base, _, query = full.partition("?")
            target = base if "via=loop" in query else f"{base}?via=loop"
            return Resource(status=302, headers={"Location": f"http://{host}{target}"})
        if fault.kind == "xml_bomb":
            return Resource(billion_laughs(), "application/xml; charset=utf-8")
        if fault.kind == "pdf_bomb":
            return Resource(
                inflating_pdf(int(self.options.get("fault_inflate", 10**9))), "application/pdf"
            )
        if fault.kind == "pdf_slow":
            return Resource(inflating_pdf(64 * 1024 * 1024), "application/pdf")
        return None

    def _fault_body(self, fault: Fault, res: Resource) -> Resource:
        kind = fault.kind
        if kind in ("reset", "truncate", "timeout"):
            res.fault = kind
        elif kind == "huge":
            size = int(self.options.get("fault_size", 10 * 1024 * 1024))
            pad = max(0, size - len(res.body))
            cut = res.body.rfind(b"</body>")
            cut = cut if cut >= 0 else len(res.body)
            filler = b"<!--" + b" " * max(0, pad - 7) + b"-->"
            res.body = res.body[:cut] + filler + res.body[cut:]
            res.fault = "unsized"
        elif kind == "malformed":
            res.body = malformed(res.body)
        elif kind == "charset_wrong":
            res.body = relabel(res.body, "iso-8859-1")
            res.content_type = "text/html; charset=iso-8859-1"
        elif kind == "charset_missing":
            res.body = relabel(res.body, None)
            res.content_type = "text/html"
        return res

    def _offsite_links(self, here: str, res: Resource, host: str) -> Resource:
        """Links from this page to an "offsite" target point at another host."""
        targets = [p for p, f in self.faults.items() if f.kind == "offsite"]
        if not targets or res.status != 200 or not res.content_type.startswith("text/html"):
            return res
        other = offsite_host(host)
        for target in targets:
            rel = self.renderer.rel(here, target).encode()
            res.body = res.body.replace(b'"' + rel + b'"', f'"http://{other}{target}"'.encode())
        return res

    def _published(self, path: str) -> datetime:
        for d, paths in self.page_paths.items():
            if path in paths.values() or path in self.pdf_paths[d].values():
                return datetime.combine(d, time(5, 30), CST)
        slot = self.slots.get(path)
        if slot:
            return datetime.combine(slot.edition.date, time(5, 30), CST)
        return datetime.combine(self.dates[-1] if self.dates else date.today(), time(5, 30), CST)

    # helpers for renderers ----------------------------------------------
    def private_path(self, day: date) -> str:
        """A link robots.txt forbids (the server disallows /<paper>/private/)."""
        return f"/{self.paper}/private/{day:%Y%m%d}/content_0.html"

    def uuid(self, *parts: object) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join(map(str, (self.paper, *parts)))))

    def digest(self, *parts: object) -> str:
        return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()
