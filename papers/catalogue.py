"""The paper catalogue: papers.yaml loading and validation.

Every error names the file, the paper and the key (or the line), so a user can fix
the entry without reading code. A papers file may come from anyone: it is bounded in
size, read as plain YAML without anchors or aliases (no billion laughs), and its URL
templates may only format the date.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import itertools
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from papers import family as family_registry
from papers.family import FamilyError
from papers.ids import PAPER_ID

BUILTIN_PAPERS = Path(__file__).resolve().with_name("papers.yaml")  # package data
_KEYS = {
    "id",
    "name",
    "region",
    "family",
    "edition_url",
    "schedule",
    "timezone",
    "encoding",
    "eras",
    "confirmed",
    "source",
    "evidence",
    "note",
}
_ERA_KEYS = {"from", "to", "family", "edition_url", "encoding"}
# `family: none`: the site's markup is one no family knows, so the paper is listed (its
# address and evidence kept) but refused at archive instead of half-crawled.
NO_FAMILY = "none"
_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
MAX_FILE_BYTES = 16 * 1024 * 1024  # 30,000 papers take 8 MiB
MAX_SCALAR_CHARS = 4096
MAX_DEPTH = 16  # a papers file nests 4 deep (list, paper, eras, era)
MAX_DATE_FORMAT = 64
# A placeholder's format: literal text and strftime directives (%-d: glibc's unpadded day).
_DATE_FORMAT = re.compile(r"(?:[^%{}\x00-\x1f\x7f]|%-?[aAwdbBmyYHIpMSfzZjUWcxXGuV%])*\Z")
_COLLECTION_TAGS = {None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str", "timestamp")
}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Era:
    """One layout of a paper's site, valid from `start` to `end` (inclusive; None: open)."""

    start: dt.date | None
    end: dt.date | None
    family: str
    edition_url: str
    encoding: str | None = None

    @property
    def fits(self) -> bool:
        return self.family != NO_FAMILY


@dataclass(frozen=True)
class Evidence:
    """Where the markup of a paper's site was read: a file of a public repository."""

    repo: str
    path: str


@dataclass(frozen=True)
class Paper:
    id: str
    name: str
    region: str
    schedule: str
    timezone: str
    eras: tuple[Era, ...]
    confirmed: bool = True
    source: str = ""
    evidence: tuple[Evidence, ...] = ()
    note: str = ""

    def layout(self, date: dt.date) -> Era:
        """The era covering `date`, whether or not a family fits it (probe, listings)."""
        for era in self.eras:
            if (era.start is None or era.start <= date) and (era.end is None or date <= era.end):
                return era
        raise ConfigError(f"paper {self.id!r}: no family/edition_url covers {date.isoformat()}")

    def era(self, date: dt.date) -> Era:
        """The era to crawl `date` with; refused where no family fits the site."""
        era = self.layout(date)
        if not era.fits:
            why = f" ({self.note})" if self.note else ""
            raise ConfigError(
                f"paper {self.id!r} ({self.name}): on {date.isoformat()} its site fits no known "
                f"family{why}; it is not archived until a family fits it"
            )
        return era

    def edition_url(self, date: dt.date) -> str:
        return self.layout(date).edition_url.format(date=date)


def _short(value, limit: int = 80) -> str:
    """repr of a value from the file, cut short: an error line, not a dump."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_key(keys: set) -> str:
    # keys may mix types (1: x beside name: y): compared as text, cut short
    return str(min(keys, key=str))[:80]


def _fail(origin: str, paper: str, key: str, problem: str):
    raise ConfigError(f"{origin}: paper {paper!r}: key {key!r}: {problem}")


def _check_template(origin: str, pid: str, key: str, template) -> str:
    """Only {date:FORMAT} with a short strftime FORMAT: `str.format` would otherwise run
    attribute lookups ({date.__class__}) and unbounded widths ({date.year:999999999})."""
    if not isinstance(template, str):
        _fail(origin, pid, key, "must be a URL template containing {date:FORMAT}")
    try:
        fields = [part[1:] for part in string.Formatter().parse(template) if part[1] is not None]
    except ValueError as exc:
        _fail(origin, pid, key, f"bad template ({exc})")
    if not fields:
        _fail(origin, pid, key, "must be a URL template containing {date:FORMAT}")
    for field, spec, conversion in fields:
        shown = _short(
            "{" + field + f"!{conversion}" * bool(conversion) + f":{spec}" * bool(spec) + "}"
        )
        if field != "date" or conversion or not spec:
            _fail(origin, pid, key, f"bad placeholder {shown}: only {{date:FORMAT}} is allowed")
        if len(spec) > MAX_DATE_FORMAT or not _DATE_FORMAT.match(spec):
            _fail(
                origin,
                pid,
                key,
                f"bad placeholder {shown}: FORMAT must be literal text and strftime "
                f"directives (%Y, %m, %d, …), at most {MAX_DATE_FORMAT} characters",
            )
    url = template.format(date=dt.date(2025, 4, 30))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(origin, pid, key, f"must be an absolute http(s) URL, got {_short(url)}")
    return template


def _check_family(origin: str, pid: str, key: str, family) -> str:
    if family == NO_FAMILY:
        return family
    try:
        known = family_registry.names()
    except FamilyError as exc:  # a module of EPAPER_FAMILY_MODULES that does not import
        _fail(origin, pid, key, str(exc))
    if family not in known:
        _fail(origin, pid, key, f"unknown family {_short(family)} (known: {', '.join(known)})")
    return family


def __getattr__(name: str):
    # FAMILIES is asked of the registry when read, so that EPAPER_FAMILY_MODULES counts.
    if name == "FAMILIES":
        return family_registry.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_evidence(origin: str, pid: str, value) -> tuple[Evidence, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    evidence = []
    for i, item in enumerate(items):
        key = f"evidence[{i}]" if isinstance(value, list) else "evidence"
        if not isinstance(item, dict) or set(item) != {"repo", "path"}:
            _fail(origin, pid, key, "must be a mapping {repo: owner/name, path: file in it}")
        repo, path = item["repo"], item["path"]
        if not isinstance(repo, str) or not _REPO.match(repo):
            _fail(origin, pid, f"{key}.repo", f"must be owner/name, got {_short(repo)}")
        if not isinstance(path, str) or not path.strip():
            _fail(origin, pid, f"{key}.path", "must be a file path in the repository")
        evidence.append(Evidence(repo, path))
    return tuple(evidence)


def _check_encoding(origin: str, pid: str, key: str, encoding):
    if encoding is None:
        return None
    try:
        # base64, zlib, rot13 are codecs too, but decode no page's bytes to text
        known = getattr(codecs.lookup(str(encoding)), "_is_text_encoding", True)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        known = False
    if not known:
        _fail(origin, pid, key, f"unknown text encoding {_short(encoding)}")
    return str(encoding)


def _check_date(origin: str, pid: str, key: str, value):
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        _fail(origin, pid, key, f"not a date (YYYY-MM-DD): {_short(value)}")


def _parse_eras(origin: str, pid: str, entry: dict) -> tuple[Era, ...]:
    encoding = _check_encoding(origin, pid, "encoding", entry.get("encoding"))
    if "eras" not in entry:
        for key in ("family", "edition_url"):
            if key not in entry:
                _fail(origin, pid, key, "missing")
        return (
            Era(
                None,
                None,
                _check_family(origin, pid, "family", entry["family"]),
                _check_template(origin, pid, "edition_url", entry["edition_url"]),
                encoding,
            ),
        )
    if not isinstance(entry["eras"], list) or not entry["eras"]:
        _fail(origin, pid, "eras", "must be a non-empty list of {from, to, family, edition_url}")
    eras = []
    for i, raw in enumerate(entry["eras"]):
        where = f"eras[{i}]"
        if not isinstance(raw, dict):
            _fail(origin, pid, where, "must be a mapping")
        unknown = set(raw) - _ERA_KEYS
        if unknown:
            _fail(origin, pid, f"{where}.{_first_key(unknown)}", "unknown key")
        eras.append(
            Era(
                _check_date(origin, pid, f"{where}.from", raw.get("from")),
                _check_date(origin, pid, f"{where}.to", raw.get("to")),
                _check_family(origin, pid, f"{where}.family", raw.get("family")),
                _check_template(origin, pid, f"{where}.edition_url", raw.get("edition_url")),
                _check_encoding(origin, pid, f"{where}.encoding", raw.get("encoding")) or encoding,
            )
        )
    eras.sort(key=lambda e: e.start or dt.date.min)
    for before, after in itertools.pairwise(eras):
        if before.end is None or (after.start is not None and before.end >= after.start):
            _fail(origin, pid, "eras", "date ranges overlap")
    return tuple(eras)


@functools.lru_cache(maxsize=4096)
def _valid_cron(schedule: str) -> bool:
    # papers share a few schedules; croniter's check was a tenth of a long file's load
    return croniter.is_valid(schedule)


def parse_paper(entry, origin: str) -> Paper:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: each entry must be a mapping, got {_short(entry)}")
    pid = entry.get("id")
    if not isinstance(pid, str) or not PAPER_ID.match(pid):
        raise ConfigError(f"{origin}: paper {_short(pid)}: key 'id': must match [a-z0-9-]+")
    unknown = set(entry) - _KEYS
    if unknown:
        _fail(origin, pid, _first_key(unknown), "unknown key")
    if not entry.get("name"):
        _fail(origin, pid, "name", "missing")
    schedule = str(entry.get("schedule", "0 6 * * *"))
    if not _valid_cron(schedule):
        _fail(origin, pid, "schedule", f"not a valid cron expression: {_short(schedule)}")
    timezone = str(entry.get("timezone", "Asia/Shanghai"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" is a folder, or too long
        _fail(origin, pid, "timezone", f"unknown time zone {_short(timezone)}")
    return Paper(
        id=pid,
        name=str(entry["name"]),
        region=str(entry.get("region", "")),
        schedule=schedule,
        timezone=timezone,
        eras=_parse_eras(origin, pid, entry),
        confirmed=bool(entry.get("confirmed", True)),
        source=str(entry.get("source", "")),
        evidence=_check_evidence(origin, pid, entry.get("evidence")),
        note=str(entry.get("note", "")),
    )


class _PurePythonParser(Reader, Scanner, Parser):
    """PyYAML's own events where libyaml is missing: the same events, slower."""

    def __init__(self, text: str):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


try:
    # libyaml: a 30,000-paper file parses in about a second
    from yaml.cyaml import CParser as _Parser
except ImportError:
    _Parser = _PurePythonParser
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_NO_KEY = object()  # a mapping's next scalar is a key


def _read_text(path, origin: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # no stat: a FIFO or /dev/zero has no size
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{origin}: larger than {MAX_FILE_BYTES // 2**20} MiB: not a papers file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{origin}: not UTF-8: byte {data[exc.start]:#04x} at byte offset {exc.start} "
            f"(line {line})"
        ) from None


_STR_TAG = "tag:yaml.org,2002:str"
_NODE_EVENTS = (
    ScalarEvent,
    MappingStartEvent,
    SequenceStartEvent,
)  # the events that may carry an anchor


def _scalar(event: ScalarEvent, refuse):
    value, tag = event.value, event.tag
    if len(value) > MAX_SCALAR_CHARS:
        refuse(f"a value longer than {MAX_SCALAR_CHARS} characters")
    if tag is None:
        if not event.implicit[0]:  # quoted: a string, nothing to resolve
            return value
        tag = _RESOLVER.resolve(ScalarNode, value, event.implicit)
    if tag == _STR_TAG or tag == "!":
        return value
    if tag not in _SCALAR_TAGS:
        refuse(f"tag {_short(tag)} is not allowed")
    node = ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
    except (ValueError, OverflowError) as exc:  # 2024-13-45 passes the timestamp pattern
        refuse(f"bad value {_short(value)} ({exc})")


def _load_yaml(text: str, origin: str):
    """The file's one document as plain lists, dicts and scalars, built from the parser's
    events: anchors and aliases are refused before anything is built from them, nesting
    and value lengths are bounded, and no node graph is kept (a long file's memory)."""
    parser = _Parser(text)
    event = None

    def refuse(problem: str):
        raise ConfigError(f"{origin}: line {event.start_mark.line + 1}: {problem}")

    # per open mapping or sequence: [container, its key awaiting a value (mappings)]
    stack: list[list] = []
    root, documents = None, 0
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind in _NODE_EVENTS and event.anchor is not None:
                refuse(f"YAML anchor &{event.anchor[:40]}: anchors and aliases are not allowed")
            if kind is ScalarEvent:
                value = _scalar(event, refuse)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.tag not in _COLLECTION_TAGS:
                    refuse(f"tag {_short(event.tag)} is not allowed")
                if stack and stack[-1][1] is _NO_KEY:
                    refuse("a mapping key must be a plain value")
                if len(stack) >= MAX_DEPTH:
                    refuse(f"nested deeper than {MAX_DEPTH} levels")
                stack.append([{}, _NO_KEY] if kind is MappingStartEvent else [[], None])
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                value = stack.pop()[0]
            elif kind is AliasEvent:
                refuse(f"YAML alias *{event.anchor[:40]}: anchors and aliases are not allowed")
            elif kind is DocumentStartEvent:
                documents += 1
                if documents > 1:
                    refuse("more than one YAML document")
                continue
            elif kind is StreamEndEvent:
                return root
            else:  # stream start, document end
                continue
            if not stack:
                root = value
                continue
            top = stack[-1]
            if top[1] is None:
                top[0].append(value)
            elif top[1] is _NO_KEY:
                if value in top[0]:
                    refuse(f"key {_short(value)} appears twice in one mapping")
                top[1] = value
            else:
                top[0][top[1]] = value
                top[1] = _NO_KEY
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{origin}: not valid YAML{where}: {problem}") from None


def read_papers(path: str | os.PathLike) -> dict[str, Paper]:
    origin = str(path)
    data = _load_yaml(_read_text(path, origin), origin)
    if data is None:
        return {}
    if not isinstance(data, list):
        raise ConfigError(f"{origin}: must be a list of paper entries")
    papers: dict[str, Paper] = {}
    for entry in data:
        paper = parse_paper(entry, origin)
        if paper.id in papers:
            raise ConfigError(f"{origin}: paper {paper.id!r}: key 'id': duplicate paper id")
        papers[paper.id] = paper
    return papers


def load_papers(extra: str | os.PathLike | None = None) -> dict[str, Paper]:
    """The built-in catalogue, with entries of `extra` added or overriding."""
    papers = read_papers(BUILTIN_PAPERS)
    if extra:
        papers.update(read_papers(extra))
    return papers


def get_paper(paper_id: str, extra: str | os.PathLike | None = None) -> Paper:
    papers = load_papers(extra)
    if paper_id not in papers:
        raise ConfigError(
            f"unknown paper {paper_id!r} (not in {BUILTIN_PAPERS.name}"
            + (f" or {extra}" if extra else "")
            + "; `epaper papers` lists them)"
        )
    return papers[paper_id]


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"bad date {text!r}: expected YYYY-MM-DD") from None
