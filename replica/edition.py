"""What one paper printed on one day: pages and the stories on them.

Editions are a pure function of (paper, date, page count): the same arguments give the
same edition in every process. Wire stories are chosen per *date*, so every paper of
that day reprints them (each with its own headline, trims and dateline, as regional
papers do); local stories are composed per paper and date from the seeds' local
sentences, so no two papers share them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from .corpus import Article, seed_articles

# Papers the replica knows by id: name, region, seed their local news is drawn from.
PAPERS = {
    "bcrb": ("白城日报", "吉林省白城市", "004"),
    "shrb": ("绥化日报", "黑龙江省绥化市", "000"),
    "xptb": ("新普陀报", "上海市普陀区", "001"),
    "xmwb": ("新民晚报", "上海市", "002"),
    "whb": ("文汇报", "上海市", "003"),
    "jfdaily": ("解放日报", "上海市", ""),
    "pdtimes": ("浦东时报", "上海市浦东新区", ""),
    "dzrb": ("大众日报", "山东省", ""),
}

PAGE_NAMES = ["要闻", "综合", "本地新闻", "时事", "经济", "社会", "文化", "专版"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
# Given-name characters include GBK-only ones (镕 喆 堃 燊 珺): a GB2312 decoder chokes on them.
GBK_ONLY = "镕喆堃燊珺玥昇"
GIVEN = "建国明华晓丽伟芳敏静磊洋勇艳杰涛超鹏" + GBK_ONLY


@dataclass
class Story:
    article: Article
    hidden: bool = False  # reachable only through an image-map hotspot


@dataclass
class Page:
    no: int
    name: str
    kind: str = "news"  # news | ad
    stories: list[Story] = field(default_factory=list)


@dataclass
class Edition:
    paper: str
    date: date
    pages: list[Page]


def paper_info(paper: str) -> tuple[str, str, str]:
    return PAPERS.get(paper, (paper, "", ""))


@cache
def _pools() -> tuple[tuple[Article, ...], tuple[Article, ...]]:
    arts = seed_articles()
    return (
        tuple(a for a in arts if a.wire and a.kind == "news"),
        tuple(a for a in arts if not a.wire and a.kind == "news"),
    )


@cache
def _sentences(seed: str) -> tuple[str, ...]:
    """Sentences of local (non-wire) stories, the paper's own seed first."""
    _, local = _pools()
    out = []
    for a in local:
        if seed and a.seed != seed:
            continue
        for p in a.paragraphs[1:] if a.source else a.paragraphs:
            out += [s for s in re.findall(r"[^。！？]+[。！？][”’」]?", p) if 12 <= len(s) <= 160]
    return tuple(out)


def _name(rng: random.Random, gbk_only: bool = False) -> str:
    given = [rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))]
    if gbk_only:  # so that every edition carries a character GB2312 lacks
        given[-1] = rng.choice(GBK_ONLY)
    return rng.choice(SURNAMES) + "".join(given)


def local_story(paper: str, day: date, slot: int) -> Article:
    """A local story of its own: a seed headline over sentences of the paper's region."""
    rng = random.Random(f"local:{paper}:{day.isoformat()}:{slot}")
    seed = paper_info(paper)[2]
    own, every = _sentences(seed), _sentences("")
    pool = own if len(own) >= 40 else every
    _, local = _pools()
    head = rng.choice(local)
    reporters = " ".join(
        _name(rng, gbk_only=slot == 0 and i == 0) for i in range(rng.choice((1, 2)))
    )
    source = f"本报讯（记者 {reporters}）"
    picked = rng.sample(pool, k=min(len(pool), rng.randint(6, 10)))
    paragraphs, i = [], 0
    while i < len(picked):
        n = rng.randint(1, 3)
        paragraphs.append("".join(picked[i : i + n]))
        i += n
    paragraphs[0] = f"{source}{day.month}月{day.day}日，" + paragraphs[0]
    return Article(
        title=head.title,
        kicker=head.kicker if rng.random() < 0.5 else "",
        subtitle=head.subtitle,
        author=reporters,
        source=source,
        paragraphs=tuple(paragraphs),
        seed=seed,
    )


def reprint(story: Article, paper: str, day: date) -> Article:
    """How one paper runs a wire story: own headline, trimmed end, reprint dateline."""
    rng = random.Random(f"wire:{paper}:{day.isoformat()}:{story.title}")
    paras = list(story.paragraphs)
    if len(paras) > 3:
        paras = paras[: len(paras) - rng.randint(0, 2)]
    title, kicker, subtitle = story.title, story.kicker, story.subtitle
    if rng.random() < 0.5 and subtitle:
        title, subtitle = subtitle, title
    source = story.source
    if source.startswith("新华社") and rng.random() < 0.5:
        paras[0] = "据" + paras[0]
        source = "据" + source
    return story.with_(
        title=title, kicker=kicker, subtitle=subtitle, paragraphs=tuple(paras), source=source
    )


def _guide(stories: list[tuple[int, Article]]) -> Article:
    """The front page's 导读 box: a pseudo-article pointing at other pages."""
    lines = tuple(f"{a.title} >>>刊{no}版" for no, a in stories)
    return Article(title="导读", paragraphs=lines, kind="pseudo")


AD = Article(title="广告", paragraphs=("本版为广告。",), kind="ad")


def make_edition(paper: str, day: date, pages: int = 4, masthead: bool = False) -> Edition:
    """Page 1 要闻 (导读, wire story, local stories, one hotspot-only), middle pages
    of wire and local news, last page an ad page. `masthead`: the front page's
    报头 is an article of its own, as some CMSs publish it."""
    wire, _ = _pools()
    day_rng = random.Random(f"wire-of-day:{day.isoformat()}")
    wires = day_rng.sample(wire, k=min(2, len(wire)))
    rng = random.Random(f"edition:{paper}:{day.isoformat()}")
    names = PAGE_NAMES[:1] + rng.sample(PAGE_NAMES[1:], k=len(PAGE_NAMES) - 1)
    out = [Page(no=n, name=names[(n - 1) % len(names)]) for n in range(1, pages)]
    out.append(Page(no=pages, name="广告", kind="ad", stories=[Story(AD)]))
    slot = 0
    for page in out[:-1]:
        if page.no <= len(wires):
            page.stories.append(Story(reprint(wires[page.no - 1], paper, day)))
        for _ in range(2 if page.no > 1 else 1):
            page.stories.append(Story(local_story(paper, day, slot)))
            slot += 1
    out[0].stories.append(Story(local_story(paper, day, slot), hidden=True))
    if pages > 2:
        out[-2].stories.append(Story(local_story(paper, day, slot + 1), hidden=True))
    inside = [(p.no, s.article) for p in out[1:-1] for s in p.stories if not s.hidden]
    out[0].stories.insert(0, Story(_guide(inside)))
    if masthead:
        name = paper_info(paper)[0]
        out[0].stories.insert(
            0,
            Story(Article(title="报头", paragraphs=(f"{name} {day:%Y年%m月%d日}",), kind="pseudo")),
        )
    return Edition(paper=paper, date=day, pages=out)
