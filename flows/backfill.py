"""Prefect flow: archive every edition of one paper over a date range."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from flows.archive import archive_edition
from flows.progress import EDITIONS
from papers.catalogue import ConfigError, get_paper, parse_date


class EditionsFailed(RuntimeError):
    """Some editions of a backfill failed; `results` holds every date's outcome."""

    def __init__(self, message: str, results: list[dict]):
        super().__init__(message)
        self.results = results


@flow(name="backfill", flow_run_name="{paper} {start}..{end}")
def backfill(paper: str, start: str, end: str, papers_file: str | None = None) -> list[dict]:
    """Every date's outcome; the run ends Failed (EditionsFailed) if any edition failed,
    after all dates were tried."""
    get_paper(paper, papers_file)
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise ConfigError(f"bad range: the end {end} is before the start {start}")
    dates = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    progress = create_progress_artifact(
        progress=0.0, description=f"backfill {paper} {start}..{end}"
    )
    results = []
    for done, date in enumerate(dates, start=1):
        # One bad date (a site error, say) must not stop the rest of the range.
        state = archive_edition(paper, date.isoformat(), papers_file, return_state=True)
        results.append(
            state.result()
            if state.is_completed()
            else {
                "paper": paper,
                "date": date.isoformat(),
                "status": "failed",
                "reason": state.message,
            }
        )
        update_progress_artifact(progress, progress=100.0 * done / len(dates))
        EDITIONS.info(
            "%s %s: %s",
            paper,
            date,
            results[-1]["status"],
            extra={"edition": results[-1], "done": done, "total": len(dates)},
        )
    create_table_artifact(
        key=f"backfill-{paper}-{start}-{end}",
        description=f"backfill {paper} {start}..{end}",
        table=[
            {
                "date": r["date"],
                "status": r["status"],
                "articles": len(r.get("articles", [])),
                "manifest or reason": r.get("key") or r["reason"],
            }
            for r in results
        ],
    )
    failed = [r["date"] for r in results if r["status"] == "failed"]
    if failed:
        raise EditionsFailed(
            f"{len(failed)} of {len(results)} editions of {paper} failed: {', '.join(failed)}",
            results,
        )
    return results
