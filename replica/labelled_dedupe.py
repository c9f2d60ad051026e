"""A labelled reprint set built from the seed pages (real regional papers, 2025-04).

The seeds are text taken from page PDFs: lines are broken mid-sentence and headlines,
captions and neighbouring stories are interleaved. `stories()` cuts the articles out of
them by anchors; `labelled_set()` then plays the regional desks: every wire story is
reprinted many times with the edits papers really make (new headlines, dateline
prefixes, trimmed endings, a dropped sentence, captions, footers, paragraph splits,
PDF line breaks, full/half-width punctuation, OCR slips), some articles are repeated
exactly, and "near misses" are added: commentaries that quote a long paragraph of a
wire story but are different articles. Each article carries the label of its story;
`pair_metrics()` scores a clustering against those labels.

Seeds are found through EPAPER_SEEDS, else the copy of ../shared/seeds bundled with the replica.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from math import comb
from pathlib import Path

# Sentence ends after which a PDF paragraph break is real (not a column/page break).
_PARA_END = tuple("。！？”」）)…")
_SENTENCE = re.compile(r"[^。！？]+[。！？][”’」]?")


@dataclass(frozen=True)
class Story:
    name: str
    seed: str  # file name prefix in the seed folder
    spans: tuple[tuple[str, str], ...]  # (start anchor, end anchor) cut out and joined
    headline: str
    wire: bool = False
    start: str = "2025-04-27"  # first print date


STORIES = (
    Story(
        "xinhua-ai-shanghai",
        "000",
        (("新华社上海", "同志陪同考察。"),),
        "习近平在上海考察时强调\n加快建成具有全球影响力的科技创新高地",
        True,
        "2025-04-30",
    ),
    Story(
        "xinhua-ai-study",
        "004",
        (("新华社北京4月26日电", "全球治理框架和标准规范。"),),
        "习近平在中共中央政治局第二十次集体学习时强调\n"
        "坚持自立自强 突出应用导向\n推动人工智能健康有序发展",
        True,
        "2025-04-27",
    ),
    Story(
        "xinhua-zuofeng",
        "004",
        (("在深入贯彻中央八项规定精神学习教育中，黑龙江", "赋能企业转型升级。"),),
        "以上率下抓整改 严字当头转作风",
        True,
        "2025-04-27",
    ),
    Story(
        "xinhua-baicheng-hydrogen",
        "004",
        (("白色风机擎天而立", "提供更多绿色答案。"),),
        "吉林白城：“氢”装上阵 打造绿能产业新高地",
        True,
        "2025-04-28",
    ),
    Story(
        "suihua-xinfang",
        "000",
        (("本报讯（全媒体记者王建夫", "新担当新作为。"),),
        "张宝伟到市信访局接待群众来访时强调\n深入践行以人民为中心发展思想",
        start="2025-04-30",
    ),
    Story(
        "suihua-zhengfu",
        "000",
        (("本报讯（全媒体记者薛秀春", "吴永久列席会议。"),),
        "市政府党组理论学习中心组集体学习会议召开",
        start="2025-04-30",
    ),
    Story(
        "suihua-renda",
        "000",
        (("本报讯（全媒体记者唐国宏）", "赢得党和人民的信任支持。"),),
        "市人大常委会党组理论学习中心组组织第五十一次集体学习",
        start="2025-04-30",
    ),
    Story(
        "suihua-laomo",
        "000",
        (("本报讯 4月 28日", "崭新风采。"),),
        "我市8名劳动模范1名先进工作者获全国表彰",
        start="2025-04-30",
    ),
    Story(
        "putuo-laomo",
        "001",
        (("本报讯(记者 张成妍)", "并合影留念。"),),
        "普陀区举行劳模先进表彰大会",
        start="2025-05-16",
    ),
    # A front-page quote box: the wire story's paragraph and an attribution, nothing else.
    Story("putuo-quote-box", "001", (("要正视差距", "集体学习时的讲话"),), "", start="2025-05-16"),
    Story(
        "shanghai-chenjining",
        "002",
        (("本报讯 昨天下午", "陈杰参加调研。"),),
        "全力打造人工智能发展试验田孵化器",
        start="2025-04-30",
    ),
    Story(
        "shanghai-gongzheng",
        "002",
        (("本报讯 上海市城市更新", "首批专家代表颁证。"),),
        "努力走出可持续发展城市更新路",
        start="2025-04-30",
    ),
    Story(
        "shanghai-lunyu",
        "002",
        (("近日,“女子春节", "城市交通治理的自觉。"),),
        "举报交通违法行为人人有责",
        start="2025-04-30",
    ),
    Story(
        "shanghai-renda",
        "002",
        (
            ("本报讯 (记者 姚丽萍)", "出席并讲话。"),
            ("会上,市高院院长", "负责同志分别"),
            ("通报代表议案建议", "准备工作情况。"),
            ("黄莉新指出", "主持相关会议。"),
        ),
        "在沪全国人大代表开展会前活动",
        start="2025-04-30",
    ),
    Story(
        "shanghai-jindu",
        "002",
        (
            ("本报讯 (记者 宋宁华)", "切实在缉毒执法打击、新型"),
            ("毒品治理、预防宣传教育", "分别设立分会场。"),
        ),
        "凝聚起禁毒的强大合力",
        start="2025-04-30",
    ),
    # A reaction piece that quotes the Shanghai wire story several times: a real near miss.
    Story(
        "wenhui-reaction",
        "003",
        (("“上海承担着建设国际科技创新中心", "深度耦合的创新生态。"),),
        "牢记嘱托力争走前列 抢抓机遇勇攀新高峰",
        start="2025-04-30",
    ),
    Story(
        "baicheng-changwei",
        "004",
        (("本报讯（记者张赫）4月25日", "会议还研究了其他事项。"),),
        "市委召开今年第8次常委会会议",
        start="2025-04-27",
    ),
    Story(
        "baicheng-dushuban",
        "004",
        (("本报讯（记者张赫）按照", "市级领导同志等出席会议。"),),
        "市级领导干部深入贯彻中央八项规定精神学习教育读书班研讨交流会召开",
        start="2025-04-27",
    ),
    Story(
        "baicheng-fuyuan",
        "004",
        (("本报讯（记者张赫）4月27日", "在主会场参加会议。"),),
        "全市府院联动2025年第一次联席会议召开",
        start="2025-04-28",
    ),
)

# Local stories that quote wire copy: no source of "own text" for the near misses.
QUOTING = {"putuo-quote-box", "wenhui-reaction"}
PAPERS = (
    "bcrb",
    "shrb",
    "jfrb",
    "whb",
    "xmwb",
    "hljrb",
    "jlrb",
    "lnrb",
    "qhrb",
    "gsrb",
    "nxrb",
    "sxrb",
    "dzrb",
    "hbrb",
    "hnrb",
    "scrb",
    "gzrb",
    "ynrb",
    "gxrb",
    "fjrb",
    "jxrb",
    "ahrb",
    "zjrb",
    "shxrb",
    "sjzrb",
    "tjrb",
    "cqrb",
    "xjrb",
)
REPORTERS = (
    "张赫",
    "李晓明",
    "王建夫",
    "刘泽祥",
    "宋宁华",
    "姚丽萍",
    "唐国宏",
    "陈思远",
    "周敏",
    "赵一鸣",
)
CAPTIONS = (
    "4月29日，中共中央总书记、国家主席、中央军委主席习近平在上海考察。这是习近平在位于徐汇区的上海"
    "“模速空间”大模型创新生态社区人工智能产品体验店考察。新华社记者 谢环驰摄",
    "4月29日，中共中央总书记、国家主席、中央军委主席习近平在上海考察。这是习近平在位于徐汇区的上海"
    "“模速空间”大模型创新生态社区，同正在参加“下一代智能体的自主进化”主题沙龙的青年创新人才亲切交流。"
    "新华社记者 谢环驰摄",
    "图为会议现场。本报记者 李晓明 摄",
    "图为项目建设现场。新华社发",
)
FOOTERS = (
    "（新华社）",
    "（据新华社电）",
    "责任编辑：王磊",
    "（本报综合）",
    "（来源：新华网）",
    "本版编辑 周敏",
)
PREFIXES = ("据新华社电 ", "本报综合新华社电 ", "新华社电 ", "据新华网报道 ")
_HALF = str.maketrans("，：；（）！？", ",:;()!?")
_FULL_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
# What opens a speech paragraph ("…习近平在主持学习时强调，"): a quote starts after it.
_SPEAKER = re.compile(r"^.*?习近平\S{0,12}?(强调|指出)，")
# Dateline of a wire story or byline of a local one, as printed at the start.
_DATELINE = re.compile(r"^(新华社\S*? ?\d+月 ?\d+日电|本报讯\s*[（(][^）)]*[）)]|本报讯)\s*")


@dataclass(frozen=True)
class Article:
    key: str
    paper: str
    date: str
    text: str
    story: str  # ground-truth label: equal labels = reprints of one story


def seed_dir() -> Path:
    path = Path(os.environ.get("EPAPER_SEEDS") or Path(__file__).with_name("data"))
    if not any(path.glob("*.txt")):
        raise FileNotFoundError(f"no seed pages (*.txt) in {path}; set EPAPER_SEEDS")
    return path


def _flatten(raw: str) -> str:
    """Seed page → one line per paragraph: PDF line breaks joined, markdown marks dropped."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", raw.replace("**", "")):
        text = "".join(line.strip().lstrip("#").strip() for line in block.splitlines())
        if not text:
            continue
        if paragraphs and not paragraphs[-1].endswith(_PARA_END):
            paragraphs[-1] += text  # a column or page break inside a sentence
        else:
            paragraphs.append(text)
    return "\n".join(paragraphs)


@cache
def stories() -> dict[str, list[str]]:
    """Story name → its paragraphs, cut out of the seed pages."""
    folder = seed_dir()
    pages = {p.name[:3]: _flatten(p.read_text(encoding="utf-8")) for p in folder.glob("*.txt")}
    out = {}
    for story in STORIES:
        page, text = pages[story.seed], ""
        for start, end in story.spans:
            i = page.index(start)
            piece = page[i : page.index(end, i) + len(end)]
            text += piece if not text or not text.endswith(_PARA_END) else "\n" + piece
        out[story.name] = [p.strip() for p in text.split("\n") if p.strip()]
    return out


def _sentences(paragraph: str) -> list[str]:
    return _SENTENCE.findall(paragraph) or [paragraph]


def _reprint(rng: random.Random, story: Story, paragraphs: list[str]) -> str:
    """One regional desk's version of a story."""
    paras = list(paragraphs)
    if rng.random() < 0.6:  # new dateline/prefix, or the byline dropped
        first = _DATELINE.sub("", paras[0])
        paras[0] = (rng.choice(PREFIXES) if story.wire else rng.choice(("", "本报讯 "))) + first
    if len(paras) > 3 and rng.random() < 0.5:  # trimmed ending: the desk cut to fit
        total, keep = sum(map(len, paras)), len(paras)
        while keep > 2 and sum(map(len, paras[: keep - 1])) >= 0.4 * total and rng.random() < 0.75:
            keep -= 1
        paras = paras[:keep]
    if rng.random() < 0.3:  # a short sentence dropped in the middle
        i = rng.randrange(len(paras))
        sents = _sentences(paras[i])
        short = [j for j, s in enumerate(sents) if len(s) <= 60]
        if len(sents) > 1 and short:
            del sents[rng.choice(short)]
            paras[i] = "".join(sents)
    if rng.random() < 0.3:  # a paragraph split at a sentence boundary
        i = rng.randrange(len(paras))
        sents = _sentences(paras[i])
        if len(sents) > 1:
            cut = rng.randrange(1, len(sents))
            paras[i : i + 1] = ["".join(sents[:cut]), "".join(sents[cut:])]
    if len(paras) > 2 and rng.random() < 0.2:  # two paragraphs merged
        i = rng.randrange(len(paras) - 1)
        paras[i : i + 2] = [paras[i] + paras[i + 1]]
    if rng.random() < 0.15:  # an OCR slip or a changed character
        i = rng.randrange(len(paras))
        if len(paras[i]) > 10:
            j = rng.randrange(len(paras[i]))
            paras[i] = paras[i][:j] + rng.choice("的了在是和") + paras[i][j + 1 :]
    if rng.random() < 0.3:
        caption = rng.choice(CAPTIONS[:2] if story.name == "xinhua-ai-shanghai" else CAPTIONS[2:])
        paras.insert(rng.choice((0, len(paras))), caption)
    if rng.random() < 0.3:
        paras.append(rng.choice(FOOTERS))
    if story.headline and rng.random() < 0.5:  # headline printed as part of the text
        lines = story.headline.split("\n")
        paras.insert(0, " ".join(lines) if rng.random() < 0.5 else rng.choice(lines))
    text = "\n".join(paras)
    if rng.random() < 0.4:
        text = text.translate(_HALF)
    if rng.random() < 0.1:
        text = text.translate(_FULL_DIGITS)
    if rng.random() < 0.5:  # PDF text: every line broken at the column width
        width = rng.randint(13, 22)
        text = "\n".join(
            p[i : i + width] for p in text.split("\n") for i in range(0, len(p), width)
        )
    return text


def _near_miss(rng: random.Random, quote: str, pool: list[tuple[str, str]]) -> str:
    """A local commentary quoting one long wire paragraph. Its own text is about as long
    as the quote or longer, as in real commentaries: sentences from several unrelated
    local stories (one from each), taken out of `pool` so no two commentaries share one."""
    reporter = rng.choice(REPORTERS)
    lead = (
        f"本报讯（记者{reporter}）{rng.randint(4, 5)}月{rng.randint(1, 28)}日，"
        f"{rng.choice(('市委', '区委', '县委', '市政府'))}召开"
        f"{rng.choice(('理论学习中心组学习会', '专题会议', '常委会会议'))}，"
        "传达学习习近平总书记重要讲话精神。"
    )
    own: list[str] = []
    used: set[str] = set()
    target = len(quote) * rng.uniform(0.8, 1.6)
    for i in range(len(pool) - 1, -1, -1):
        if pool[i][0] not in used:
            used.add(pool[i][0])
            own.append(pool.pop(i)[1])
            if sum(map(len, own)) >= target:
                break
    cut = rng.randint(1, len(own))
    quoted = "会议指出，" + rng.choice(("习近平总书记强调，", "习近平总书记指出：")) + quote
    return "\n".join([lead, *own[:cut], quoted, *own[cut:]])


def labelled_set(
    seed: int = 5, reprints: int = 24, near_misses: int = 24, prefix: str = ""
) -> list[Article]:
    """Articles in archive order (by date, shuffled within a day), each with its label.

    Per wire story: the original and `reprints` edited reprints plus two exact repeats;
    per local story: the original and up to two copies (an edited web version, an
    exact repeat); then `near_misses` quote-sharing commentaries. `prefix` makes keys
    distinct between calls (the bench asks for many sets).
    """
    rng = random.Random(seed)
    texts = stories()
    pool = [
        (s.name, sentence)
        for s in STORIES
        if not s.wire and s.name not in QUOTING
        for p in texts[s.name]
        for sentence in _sentences(p)
        if len(sentence) >= 20
    ]
    rng.shuffle(pool)
    # Long speech paragraphs of the wire stories: what commentaries quote.
    quotes = [
        _SPEAKER.sub("", p)
        for s in STORIES
        if s.wire
        for p in texts[s.name]
        if "习近平" in p and len(p) >= 100
    ]
    drafts: list[tuple[str, str, str]] = []  # (story, date, text)

    def day(story: Story, offset: int) -> str:
        return (date.fromisoformat(story.start) + timedelta(days=offset)).isoformat()

    for story in STORIES:
        original = "\n".join(texts[story.name])
        drafts.append((story.name, day(story, 0), original))
        copies = reprints if story.wire else rng.randint(0, 1)
        for _ in range(copies):
            drafts.append(
                (story.name, day(story, rng.randint(0, 1)), _reprint(rng, story, texts[story.name]))
            )
        for _ in range(2 if story.wire else rng.randint(0, 1)):
            drafts.append((story.name, day(story, rng.randint(0, 2)), original))
    for n in range(near_misses):
        quote, day_ = rng.choice(quotes), f"2025-05-0{rng.randint(1, 9)}"
        drafts.append((f"{prefix}near-miss-{n}", day_, _near_miss(rng, quote, pool)))

    rng.shuffle(drafts)
    drafts.sort(key=lambda d: d[1])
    articles = []
    for i, (story, day_, text) in enumerate(drafts):
        paper = rng.choice(PAPERS)
        key = f"articles/{paper}/{day_}/{rng.randint(1, 8):02d}/{prefix}a{i:05d}.json"
        articles.append(Article(key, paper, day_, text, story))
    return articles


def pair_metrics(labels: dict[str, str], clusters: dict[str, str]) -> dict[str, float]:
    """Pair precision/recall of a clustering (key → cluster) against labels (key → story)."""

    def pairs(groups: Iterable) -> int:
        sizes: dict = {}
        for g in groups:
            sizes[g] = sizes.get(g, 0) + 1
        return sum(comb(n, 2) for n in sizes.values())

    true_pairs = pairs(labels[k] for k in labels)
    predicted = pairs(clusters[k] for k in labels)
    both = pairs((labels[k], clusters[k]) for k in labels)
    return {
        "precision": both / predicted if predicted else 1.0,
        "recall": both / true_pairs if true_pairs else 1.0,
        "true_pairs": true_pairs,
        "predicted_pairs": predicted,
        "correct_pairs": both,
    }
