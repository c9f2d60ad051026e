"""Prefect flow: archive one edition of one paper, fetch → clean → dedupe → publish."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff

from epaper.config import get_paper, parse_date
from flows import steps
from flows.workdir import new_workdir
from storage.archive import ArchiveUnavailable, open_archive
from storage.catalog import Catalog


@task(name="fetch", task_run_name="fetch {paper_id} {date}", cache_policy=NO_CACHE)
def fetch(paper_id: str, date: str, papers_file: str | None, workdir: Path) -> dict:
    return steps.fetch_edition(get_paper(paper_id, papers_file), parse_date(date), workdir)


@task(name="clean", cache_policy=NO_CACHE)
def clean(workdir: Path) -> int:
    return steps.clean_edition(workdir)


# A busy shared catalog can fail a transaction; the step is idempotent per key.
@task(name="dedupe", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def dedupe(workdir: Path) -> int:
    return steps.dedupe_edition(workdir, Catalog())


def _s3_unavailable(task, task_run, state) -> bool:
    return isinstance(state.result(raise_on_failure=False), ArchiveUnavailable)


# An S3 outage must not lose a crawl: publishing again writes only what is missing.
@task(name="publish", retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5),
      retry_condition_fn=_s3_unavailable, cache_policy=NO_CACHE)
def publish(workdir: Path, paper_id: str, date: str, stats: dict) -> dict:
    with open_archive() as archive:
        return steps.publish_edition(workdir, archive, paper_id, date, stats)


def _report(result: dict) -> None:
    """The edition as a table in the Prefect UI, with each article's duplicate mark."""
    rows = [{
        "page": a["page_no"], "title": a["title"], "key": a["key"],
        "duplicate": "" if a["cluster"] == a["key"] else f"reprint, cluster {a['cluster']}",
    } for a in result["articles"]]
    paper, date = result["paper"], result["date"]
    create_table_artifact(key=f"edition-{paper}-{date}", table=rows,
                          description=f"{paper} {date}: {len(rows)} articles")
    reprints = sum(1 for row in rows if row["duplicate"])
    create_markdown_artifact(
        key=f"dedupe-{paper}-{date}",
        markdown=(f"### {paper} {date}\n\n| pages | articles | reprints | skipped | written |\n"
                  f"|---|---|---|---|---|\n| {len(result['pages'])} | {len(rows)} | {reprints} "
                  f"| {len(result['skipped'])} | {'yes' if result['changed'] else 'unchanged'} |\n"),
        description="dedupe summary")


def edition_date(paper: str, date: str | None, papers_file: str | None) -> str:
    """The given date, or for a scheduled run, today in the paper's own time zone."""
    if date:
        return parse_date(date).isoformat()
    return dt.datetime.now(ZoneInfo(get_paper(paper, papers_file).timezone)).date().isoformat()


def _run_name() -> str:
    params = flow_run.parameters
    return f"{params['paper']} {edition_date(params['paper'], params.get('date'), params.get('papers_file'))}"


@flow(name="archive-edition", flow_run_name=_run_name)
def archive_edition(paper: str, date: str | None = None, papers_file: str | None = None) -> dict:
    get_paper(paper, papers_file)  # fail fast, naming the paper, before any work
    date = edition_date(paper, date, papers_file)
    # Reach the archive before crawling: a bad S3 setting fails in seconds, not after the crawl.
    # Without EPAPER_S3_ENDPOINT this starts the embedded server once for the whole run.
    with open_archive():
        workdir = new_workdir(paper, date)
        stats = fetch(paper, date, papers_file, workdir)
        reason = steps.missing_reason(workdir)
        if reason:
            shutil.rmtree(workdir)
            return {"paper": paper, "date": date, "status": "missing", "reason": reason}
        clean(workdir)
        dedupe(workdir)
        result = publish(workdir, paper, date, stats)
    _report(result)
    shutil.rmtree(workdir)
    return result
