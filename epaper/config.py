"""The paper catalogue: papers.yaml loading and validation.

Every error names the file, the paper and the key, so a user can fix the
entry without reading code.
"""
from __future__ import annotations

import codecs
import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter

BUILTIN_PAPERS = Path(__file__).resolve().parent.parent / "papers.yaml"
FAMILIES = ("founder-classic", "founder-new", "paperindex", "xmwb", "whb", "jfdaily")
PAPER_ID = re.compile(r"[a-z0-9-]+\Z")
_KEYS = {"id", "name", "region", "family", "edition_url", "schedule", "timezone", "encoding",
         "eras", "confirmed", "source"}
_ERA_KEYS = {"from", "to", "family", "edition_url", "encoding"}


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

    def era(self, date: dt.date) -> Era:
        for era in self.eras:
            if (era.start is None or era.start <= date) and (era.end is None or date <= era.end):
                return era
        raise ConfigError(f"paper {self.id!r}: no family/edition_url covers {date.isoformat()}")

    def edition_url(self, date: dt.date) -> str:
        return self.era(date).edition_url.format(date=date)


def _fail(origin: str, paper: str, key: str, problem: str):
    raise ConfigError(f"{origin}: paper {paper!r}: key {key!r}: {problem}")


def _check_template(origin: str, pid: str, key: str, template) -> str:
    if not isinstance(template, str) or "{date" not in template:
        _fail(origin, pid, key, "must be a URL template containing {date:FORMAT}")
    try:
        url = template.format(date=dt.date(2025, 4, 30))
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        _fail(origin, pid, key, f"bad template ({exc})")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _fail(origin, pid, key, f"must be an absolute http(s) URL, got {url!r}")
    return template


def _check_family(origin: str, pid: str, key: str, family) -> str:
    if family not in FAMILIES:
        _fail(origin, pid, key, f"unknown family {family!r} (known: {', '.join(FAMILIES)})")
    return family


def _check_encoding(origin: str, pid: str, key: str, encoding):
    if encoding is None:
        return None
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        _fail(origin, pid, key, f"unknown encoding {encoding!r}")
    return str(encoding)


def _check_date(origin: str, pid: str, key: str, value):
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        _fail(origin, pid, key, f"not a date (YYYY-MM-DD): {value!r}")


def _parse_eras(origin: str, pid: str, entry: dict) -> tuple[Era, ...]:
    encoding = _check_encoding(origin, pid, "encoding", entry.get("encoding"))
    if "eras" not in entry:
        for key in ("family", "edition_url"):
            if key not in entry:
                _fail(origin, pid, key, "missing")
        return (Era(None, None, _check_family(origin, pid, "family", entry["family"]),
                    _check_template(origin, pid, "edition_url", entry["edition_url"]), encoding),)
    if not isinstance(entry["eras"], list) or not entry["eras"]:
        _fail(origin, pid, "eras", "must be a non-empty list of {from, to, family, edition_url}")
    eras = []
    for i, raw in enumerate(entry["eras"]):
        where = f"eras[{i}]"
        if not isinstance(raw, dict):
            _fail(origin, pid, where, "must be a mapping")
        unknown = set(raw) - _ERA_KEYS
        if unknown:
            _fail(origin, pid, f"{where}.{sorted(unknown)[0]}", "unknown key")
        eras.append(Era(
            _check_date(origin, pid, f"{where}.from", raw.get("from")),
            _check_date(origin, pid, f"{where}.to", raw.get("to")),
            _check_family(origin, pid, f"{where}.family", raw.get("family")),
            _check_template(origin, pid, f"{where}.edition_url", raw.get("edition_url")),
            _check_encoding(origin, pid, f"{where}.encoding", raw.get("encoding")) or encoding,
        ))
    eras.sort(key=lambda e: e.start or dt.date.min)
    for before, after in zip(eras, eras[1:]):
        if before.end is None or (after.start is not None and before.end >= after.start):
            _fail(origin, pid, "eras", "date ranges overlap")
    return tuple(eras)


def parse_paper(entry, origin: str) -> Paper:
    if not isinstance(entry, dict):
        raise ConfigError(f"{origin}: each entry must be a mapping, got {entry!r}")
    pid = entry.get("id")
    if not isinstance(pid, str) or not PAPER_ID.match(pid):
        raise ConfigError(f"{origin}: paper {pid!r}: key 'id': must match [a-z0-9-]+")
    unknown = set(entry) - _KEYS
    if unknown:
        _fail(origin, pid, sorted(unknown)[0], "unknown key")
    if not entry.get("name"):
        _fail(origin, pid, "name", "missing")
    schedule = str(entry.get("schedule", "0 6 * * *"))
    if not croniter.is_valid(schedule):
        _fail(origin, pid, "schedule", f"not a valid cron expression: {schedule!r}")
    timezone = str(entry.get("timezone", "Asia/Shanghai"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(origin, pid, "timezone", f"unknown time zone {timezone!r}")
    return Paper(
        id=pid, name=str(entry["name"]), region=str(entry.get("region", "")),
        schedule=schedule, timezone=timezone, eras=_parse_eras(origin, pid, entry),
        confirmed=bool(entry.get("confirmed", True)), source=str(entry.get("source", "")),
    )


def read_papers(path: str | os.PathLike) -> dict[str, Paper]:
    origin = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {str(exc).splitlines()[0]}") from None
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
        raise ConfigError(f"unknown paper {paper_id!r} (not in {BUILTIN_PAPERS.name}"
                          + (f" or {extra}" if extra else "") + "; `epaper papers` lists them)")
    return papers[paper_id]


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ConfigError(f"bad date {text!r}: expected YYYY-MM-DD") from None
