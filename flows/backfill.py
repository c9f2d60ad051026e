"""Prefect flow: archive every edition of one paper over a date range, for as long as it takes.

A backfill of years runs for days: it resumes (dates whose manifest says complete are skipped
after one HEAD and a read of the manifest, not a crawl; an incomplete one is crawled again),
holds one line per date in memory, and shows its progress (dates done / to do, ETA) in a
progress artifact and on the `epaper.editions` logger. One bad date does not stop the rest:
each date's outcome is in the end table, and the run ends Failed naming the dates that
failed (with their reasons) or were published incomplete.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from prefect import flow
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from flows.archive import EditionIncomplete, archive_edition
from flows.progress import EDITIONS
from papers.catalogue import ConfigError, get_paper, parse_date
from storage import keys
from storage.archive import open_archive


class EditionsFailed(RuntimeError):
    """Some editions of a backfill failed or were published incomplete; `results` holds every
    date's outcome."""

    def __init__(self, message: str, results: list[dict]):
        super().__init__(message)
        self.results = results

    def __reduce__(self):  # Prefect pickles a flow's exception
        return EditionsFailed, (str(self), self.results)


def archived_dates(paper: str, dates: list[dt.date]) -> dict[str, str]:
    """The dates of `dates` archived complete, with their manifest keys: a HEAD per date, and
    a read of the manifest where there is one (an incomplete edition is to be done again)."""
    done = {}
    with open_archive() as archive:
        for date in dates:
            key = keys.edition_manifest(paper, date.isoformat())
            if archive.exists(key) and json.loads(archive.get(key)).get("status") == "complete":
                done[date.isoformat()] = key
    return done


def outcome(paper: str, date: str, state) -> dict:
    """The full result of one date's run: archived, published incomplete, missing or failed."""
    if state.is_completed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if isinstance(error, EditionIncomplete):  # published all the same, not lost
        return {**error.result, "status": "incomplete", "reason": str(error)}
    return {"paper": paper, "date": date, "status": "failed", "reason": state.message}


def row(result: dict) -> dict:
    """What the backfill keeps of a date (a line of its table): bounded whatever the range."""
    return {
        "date": result["date"],
        "status": result["status"],
        "articles": len(result.get("articles", [])),
        "manifest or reason": result.get("key") or result.get("reason", ""),
        **({"reason": result["reason"]} if result.get("reason") else {}),
    }


def eta(seconds_per_date: list[float], remaining: int) -> float | None:
    """Seconds left at the mean pace of the dates crawled so far (skipped ones cost nothing)."""
    if not seconds_per_date:
        return None
    return sum(seconds_per_date) / len(seconds_per_date) * remaining


def clock(seconds: float | None) -> str:
    return "?" if seconds is None else str(dt.timedelta(seconds=round(seconds)))


@flow(name="backfill", flow_run_name="{paper} {start}..{end}")
def backfill(paper: str, start: str, end: str, papers_file: str | None = None) -> list[dict]:
    """Every date's outcome (date, status, articles, manifest or reason); the run ends Failed
    (EditionsFailed) if any edition failed or is incomplete, after all dates were tried."""
    get_paper(paper, papers_file)
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise ConfigError(f"bad range: the end {end} is before the start {start}")
    dates = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    archived = archived_dates(paper, dates)
    todo = [date for date in dates if date.isoformat() not in archived]
    results = [
        {"date": date, "status": "archived", "articles": None, "manifest or reason": key}
        for date, key in archived.items()
    ]
    if archived:
        EDITIONS.info(
            "%s: %d of %d dates archived before, skipped; %d to do",
            paper,
            len(archived),
            len(dates),
            len(todo),
            extra={"note": True},
        )
    progress = create_progress_artifact(
        progress=0.0 if todo else 100.0,
        description=f"backfill {paper} {start}..{end}: 0 of {len(todo)} dates to do "
        f"({len(archived)} archived before)",
    )
    paces: list[float] = []
    for done, date in enumerate(todo, start=1):
        began = time.monotonic()
        # One bad date (a site error, say) must not stop the rest of the range.
        state = archive_edition(paper, date.isoformat(), papers_file, return_state=True)
        result = outcome(paper, date.isoformat(), state)
        paces.append(time.monotonic() - began)
        left = eta(paces, len(todo) - done)
        results.append(row(result))
        update_progress_artifact(
            progress,
            progress=100.0 * done / len(todo),
            description=f"backfill {paper} {start}..{end}: {done} of {len(todo)} dates done, "
            f"ETA {clock(left)}",
        )
        EDITIONS.info(
            "%s %s: %s",
            paper,
            date,
            result["status"],
            extra={"edition": result, "done": done, "total": len(todo), "eta": left},
        )
    results.sort(key=lambda r: r["date"])
    create_table_artifact(
        key=f"backfill-{paper}-{start}-{end}",
        description=f"backfill {paper} {start}..{end}",
        table=[{k: v for k, v in r.items() if k != "reason"} for r in results],
    )
    failed = [r for r in results if r["status"] == "failed"]
    incomplete = [r["date"] for r in results if r["status"] == "incomplete"]
    if failed or incomplete:
        parts = [f"{len(failed)} of {len(results)} editions of {paper} failed"]
        parts[0] += f": {', '.join(r['date'] for r in failed)}" if failed else ""
        if incomplete:
            parts.append(f"{len(incomplete)} published incomplete: {', '.join(incomplete)}")
        raise EditionsFailed("; ".join(parts), results)
    return results
