"""Reprocess an archived edition from its raw WARC, with no network.

What users run when the extractor improves: the archived crawl is replayed through the
same spider from its WARC files (spiders/httpcache.py), then the usual clean, dedupe and
publish steps run, so only the objects whose output changed get a new version.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import archive as archive_flow
from flows import steps
from papers.catalogue import Paper, get_paper, parse_date
from papers.workdir import Workdir, edition_workdir
from spiders.httpcache import replay_settings
from storage import keys
from storage.archive import Archive, ArchiveError, open_archive


def replay_edition(paper: Paper, date: dt.date, workdir: Path, archive: Archive) -> dict:
    """Rebuild the crawl output of the archived edition in `workdir` from its WARC files;
    returns the archived crawl's stats, for publish_edition."""
    manifest_key = keys.edition_manifest(paper.id, date)
    if not archive.exists(manifest_key):
        raise ArchiveError(
            f"no archived edition {paper.id} {date} ({manifest_key}): nothing to reprocess"
        )
    crawl = json.loads(archive.get(manifest_key))["crawl"]
    warcs = steps.previous_warcs(archive, paper.id, date.isoformat(), workdir / Workdir.PREVIOUS)
    steps.crawl_edition(paper, date, workdir, replay_settings(warcs))
    # publish_edition puts the crawl's WARC back under the key it came from (derived from
    # crawl["started"]): the same bytes, so that writes no new version.
    shutil.copyfile(warcs[0], workdir / Workdir.WARC)
    return crawl


@task(name="replay", task_run_name="replay {paper_id} {date}", cache_policy=NO_CACHE)
def replay(paper_id: str, date: str, papers_file: str | None, workdir: Path) -> dict:
    with open_archive() as archive:
        return replay_edition(get_paper(paper_id, papers_file), parse_date(date), workdir, archive)


@flow(name="reprocess-edition", flow_run_name="reprocess {paper} {date}")
def reprocess_edition(paper: str, date: str, papers_file: str | None = None) -> dict:
    """Clean and dedupe an archived edition again from its WARC; publish what changed."""
    get_paper(paper, papers_file)  # fail fast, naming the paper
    date = parse_date(date).isoformat()
    with open_archive(), edition_workdir(paper, date) as workdir:
        stats = replay(paper, date, papers_file, workdir)
        # The archive flow's own tasks: the same retries on a busy catalog or an S3 outage.
        archive_flow.clean(workdir)
        archive_flow.dedupe(workdir)
        result = archive_flow.publish(workdir, paper, date, stats)
    if result.get("checks"):  # published, but not green: as the archive flow
        raise archive_flow.EditionIncomplete(result)
    return result
