"""Site health from the archive's edition manifests: per paper the last complete edition, the
dates its schedule says an edition was due and none is archived, the incomplete editions and
why, and the article count per date. A redesigned site shows up here the first morning."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from croniter import croniter

from papers.catalogue import Paper
from storage import keys
from storage.archive import Archive, in_parallel

DAYS = 30  # the window a health report looks back over


@dataclass(frozen=True)
class Edition:
    date: str
    status: str  # the manifest's: "complete" or "incomplete"
    articles: int
    reasons: tuple[str, ...]  # why it is incomplete: its `incomplete` and its failed checks


@dataclass(frozen=True)
class PaperHealth:
    paper: str
    last_complete: str | None  # the newest complete edition, inside the window or not
    missing: tuple[str, ...]  # due dates in the window with no manifest, oldest first
    editions: tuple[Edition, ...]  # archived editions in the window, oldest first

    @property
    def incomplete(self) -> tuple[Edition, ...]:
        return tuple(e for e in self.editions if e.status != "complete")

    @property
    def ok(self) -> bool:
        return not self.missing and not self.incomplete

    def line(self) -> str:
        """One line: the paper, ok or what is wrong, its last complete edition, its counts."""
        problems = []
        if self.missing:
            problems.append(f"{len(self.missing)} missing (latest {self.missing[-1]})")
        if self.incomplete:
            latest = self.incomplete[-1]
            why = latest.reasons[0] if latest.reasons else "no reason recorded"
            problems.append(f"{len(self.incomplete)} incomplete (latest {latest.date}: {why})")
        counts = [e.articles for e in self.editions]
        articles = (
            f"articles {counts[-1]} on {self.editions[-1].date} "
            f"(median {statistics.median(counts):g})"
            if counts
            else "no editions in the window"
        )
        return (
            f"{self.paper}: {'; '.join(problems) or 'ok'}; "
            f"last complete {self.last_complete or 'never'}; {articles}"
        )

    def as_dict(self) -> dict:
        return {
            "paper": self.paper,
            "ok": self.ok,
            "last_complete": self.last_complete,
            "missing": list(self.missing),
            "editions": [
                {
                    "date": e.date,
                    "status": e.status,
                    "articles": e.articles,
                    "reasons": list(e.reasons),
                }
                for e in self.editions
            ],
        }


def due_dates(paper: Paper, now: dt.datetime, days: int = DAYS) -> list[dt.date]:
    """The dates of the last `days` days (today included) on which the paper's schedule
    fired by `now`, in the paper's own time zone: the editions that should be archived."""
    if days < 1:
        raise ValueError(f"bad window of {days} days: must be 1 or more")
    zone = ZoneInfo(paper.timezone)
    now = now.astimezone(zone)
    first = now.date() - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(), zone) - dt.timedelta(seconds=1)
    fired = croniter(paper.schedule, start)
    dates: list[dt.date] = []
    while (when := fired.get_next(dt.datetime)) <= now:
        if not dates or dates[-1] != when.date():  # a schedule firing twice a day: one edition
            dates.append(when.date())
    return dates


def failed_checks(checks) -> list[str]:
    """The failed edition checks a manifest records, as lines: a list of names or of
    {name|check, detail|reason|message, ok|passed} records, or a mapping name -> detail."""
    if isinstance(checks, dict):
        checks = [{"name": name, "detail": detail} for name, detail in checks.items()]
    lines = []
    for check in checks or ():
        if not isinstance(check, dict):
            lines.append(str(check))
            continue
        if check.get("ok", check.get("passed")) is True or check.get("detail") is True:
            continue
        name = check.get("name") or check.get("check") or "check"
        detail = next(
            (check[k] for k in ("detail", "reason", "message") if isinstance(check.get(k), str)),
            "",
        )
        lines.append(f"{name}: {detail}" if detail else str(name))
    return lines


def _edition(manifest: dict) -> Edition:
    reasons = [manifest["incomplete"]] if manifest.get("incomplete") else []
    return Edition(
        date=manifest["date"],
        status=manifest.get("status", "complete"),  # manifests before statuses were complete
        articles=len(manifest.get("articles", ())),
        reasons=tuple(reasons + failed_checks(manifest.get("checks"))),
    )


def _read(archive: Archive, paper: str, day: str) -> Edition:
    key = keys.edition_manifest(paper, day)
    try:
        return _edition(json.loads(archive.get(key)))
    except (ValueError, KeyError, TypeError) as exc:  # a damaged manifest is a finding
        return Edition(day, "unreadable", 0, (f"manifest {key} unreadable: {exc}",))


def paper_health(
    archive: Archive, paper: Paper, now: dt.datetime | None = None, days: int = DAYS
) -> PaperHealth:
    now = now or dt.datetime.now(ZoneInfo(paper.timezone))
    prefix = f"editions/{keys.paper_id(paper.id)}/"
    archived = sorted(
        key.split("/")[2] for key in archive.list(prefix) if key.endswith("/manifest.json")
    )
    due = due_dates(paper, now, days)
    today = now.astimezone(ZoneInfo(paper.timezone)).date()
    first, last = (today - dt.timedelta(days=days - 1)).isoformat(), today.isoformat()
    recent = [day for day in archived if first <= day <= last]
    editions = in_parallel([lambda day=day: _read(archive, paper.id, day) for day in recent])
    complete = [e.date for e in editions if e.status == "complete"]
    last_complete = complete[-1] if complete else None
    if last_complete is None:  # look further back, newest first, until one is complete
        for day in reversed([day for day in archived if day < first]):
            if _read(archive, paper.id, day).status == "complete":
                last_complete = day
                break
    have = set(archived)
    return PaperHealth(
        paper=paper.id,
        last_complete=last_complete,
        missing=tuple(d.isoformat() for d in due if d.isoformat() not in have),
        editions=tuple(editions),
    )


def archive_health(
    archive: Archive, papers: Iterable[Paper], now: dt.datetime | None = None, days: int = DAYS
) -> list[PaperHealth]:
    return [paper_health(archive, paper, now, days) for paper in papers]
