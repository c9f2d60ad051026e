"""Prefect flow: archive one edition of one paper, fetch → clean → dedupe → publish → report."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from prefect import flow, tags, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import deployment, flow_run
from prefect.tasks import exponential_backoff

from flows import steps
from papers import checks
from papers.catalogue import Paper, get_paper, parse_date
from papers.ids import is_reprint
from papers.workdir import Workdir, edition_workdir, read_jsonl
from storage.archive import ArchiveUnavailable, open_archive

# Politeness across runs and workers: a crawl holds a slot of its host's global concurrency
# limit (`host:<hostname>`, made by setup-prefect or by a deployment run's first use, with
# HOST_LIMIT slots) for as long as it
# runs, so papers that share a server never crawl it at once while other hosts go on side by
# side. FETCH_CAP, when an operator creates it (`epaper setup-prefect --fetch-limit N`),
# caps crawls across all hosts; absent, nothing but the hosts limits them. Both are taken
# at once, so a crawl waiting for its host holds no slot of the cap.
FETCH_TAG = "fetch"
FETCH_CAP = "fetch-all"
HOST_LIMIT = 1
# A crawl renews its lease while it runs; a killed one frees its host after this long.
LEASE_SECONDS = 300


def site_tag(paper_id: str) -> str:
    return f"site:{paper_id}"


def host_of(paper: Paper, day: dt.date) -> str:
    """The host a crawl of `day` talks to: Scrapy's politeness slot is the hostname, whatever
    the port."""
    return urlsplit(paper.edition_url(day)).hostname or ""


def host_limit(host: str) -> str:
    return f"host:{host}"


def ensure_host_limit(client, host: str) -> bool:
    """Create the host's limit unless it exists (an operator may have given a host that allows
    more its own). True if it was created."""
    try:  # read first: a create that collides costs the server an error and a logged trace
        client.read_global_concurrency_limit_by_name(host_limit(host))
        return False
    except ObjectNotFound:
        pass
    try:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=host_limit(host), limit=HOST_LIMIT)
        )
    except ObjectAlreadyExists:  # another run's, just now
        return False
    return True


class EditionIncomplete(RuntimeError):
    """An edition failed its checks (papers/checks.py). It is published, incomplete; the
    flow run raises this after publishing and reporting so that it does not end green.
    `result` is what the flow would have returned."""

    def __init__(self, result: dict):
        super().__init__(
            f"{result['paper']} {result['date']}: published incomplete -> {result['key']}: "
            f"checks failed: {checks.names(result['checks'])}"
        )
        self.result = result

    def __reduce__(self):  # Prefect pickles a flow's exception: rebuild it from its result
        return EditionIncomplete, (self.result,)


def _run_label(step: str):
    """Task run names that read as the data flow in the UI: "fetch bcrb 2025-04-30", …"""
    return lambda: f"{step} {flow_run.name}"


@task(name="fetch", task_run_name=_run_label("fetch"), tags=[FETCH_TAG], cache_policy=NO_CACHE)
def fetch(paper_id: str, date: str, papers_file: str | None, workdir: Path) -> dict:
    return steps.fetch_edition(get_paper(paper_id, papers_file), parse_date(date), workdir)


@contextmanager
def host_slot(paper_id: str, date: str, papers_file: str | None):
    """Hold the edition's host (and the cap, if any) around its fetch task: the task run
    spans the crawl, the wait shows in the flow run."""
    host = host_of(get_paper(paper_id, papers_file), parse_date(date))
    if deployment.id:
        # Deployment runs meet hosts setup-prefect did not know. Elsewhere (the CLI's own
        # temporary server, a test's) no limit is made: those servers run no lease reaper, so
        # a run killed outright would hold its host there for good.
        with get_client(sync_client=True) as client:
            ensure_host_limit(client, host)
    with concurrency([host_limit(host), FETCH_CAP], lease_duration=LEASE_SECONDS):
        yield


@task(name="clean", task_run_name=_run_label("clean"), cache_policy=NO_CACHE)
def clean(workdir: Path) -> int:
    return steps.clean_edition(workdir)


# A busy shared catalog can fail a transaction; the step is idempotent per key.
@task(
    name="dedupe",
    task_run_name=_run_label("dedupe"),
    retries=2,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
)
def dedupe(workdir: Path) -> int:
    from storage.catalog import Catalog  # late, as in flows/steps.py: not held while crawling

    with Catalog() as catalog:
        return steps.dedupe_edition(workdir, catalog)


def _s3_unavailable(task, task_run, state) -> bool:
    return isinstance(state.result(raise_on_failure=False), ArchiveUnavailable)


# An S3 outage must not lose a crawl: publishing again writes only what is missing.
@task(
    name="publish",
    task_run_name=_run_label("publish"),
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=5),
    retry_condition_fn=_s3_unavailable,
    cache_policy=NO_CACHE,
)
def publish(workdir: Path, paper_id: str, date: str, stats: dict) -> dict:
    from storage.catalog import Catalog

    # one publisher per edition at a time: the catalog's own lock
    with open_archive() as archive, Catalog() as catalog, catalog.edition_lock(paper_id, date):
        return steps.publish_edition(workdir, archive, paper_id, date, stats)


def _mark(article: dict) -> str:
    """An article's duplicate mark: "first seen", or "reprint of <earliest archived key>
    (<similarity>)"; `article` is the dedupe step's record."""
    if not is_reprint(article):
        return "first seen"
    dedupe = article["dedupe"]
    return f"reprint of {dedupe['canonical']} ({dedupe['similarity']:.2f})"


@task(name="report", task_run_name=_run_label("report"), cache_policy=NO_CACHE)
def report(result: dict, workdir: Path) -> None:
    """The edition in the Prefect UI: a table of its pages and articles with their keys and
    duplicate marks, and a dedupe summary."""
    paper, date = result["paper"], result["date"]
    deduped = {a["key"]: a for a in read_jsonl(workdir / Workdir.DEDUPED)}
    rows = [
        {
            "page": p["page_no"],
            "item": "page",
            "title": p["page_name"],
            "key": p["pdf_key"] or "",
            "duplicate": "",
        }
        for p in result["pages"]
    ]
    # An article not in `deduped` was not fetched this time: the manifest keeps its archived copy.
    rows += [
        {
            "page": a["page_no"],
            "item": "article",
            "title": a["title"],
            "key": a["key"],
            "duplicate": _mark(deduped[a["key"]])
            if a["key"] in deduped
            else "kept from an earlier crawl",
        }
        for a in result["articles"]
    ]
    rows.sort(key=lambda row: (row["page"], row["item"] != "page"))  # each page, then its articles
    reprints = [
        deduped[a["key"]]
        for a in result["articles"]
        if a["key"] in deduped and is_reprint(deduped[a["key"]])
    ]
    create_table_artifact(
        key=f"edition-{paper}-{date}",
        table=rows,
        description=f"{paper} {date}: {len(result['pages'])} pages, "
        f"{len(result['articles'])} articles, {len(reprints)} reprints",
    )
    lines = [
        f"### {paper} {date}: dedupe",
        "",
        "| pages | articles | new stories | reprints | skipped | archive |",
        "|---|---|---|---|---|---|",
        f"| {len(result['pages'])} | {len(result['articles'])} "
        f"| {len(result['articles']) - len(reprints)} | {len(reprints)} | {len(result['skipped'])} "
        f"| {'written' if result['changed'] else 'unchanged'} |",
    ]
    # Reasons carry details after a colon (the loop's path, the offsite host): count by kind.
    skipped = Counter(s["reason"].split(":")[0] for s in result["skipped"])
    if skipped:
        lines += ["", "| skipped because | requests |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in skipped.most_common()]
    if reprints:
        lines += ["", "| reprint | of (earliest archived) | similarity |", "|---|---|---|"]
        lines += [
            f"| {a['title']} `{a['key']}` | `{a['dedupe']['canonical']}` "
            f"| {a['dedupe']['similarity']:.2f} |"
            for a in reprints
        ]
    if result.get("checks"):
        lines += ["", "| failed check | detail |", "|---|---|"]
        lines += [f"| {c['check']} | {c['detail']} |" for c in result["checks"]]
    create_markdown_artifact(
        key=f"dedupe-{paper}-{date}",
        markdown="\n".join(lines) + "\n",
        description=f"{paper} {date}: dedupe summary",
    )


def edition_date(paper: str, date: str | None, papers_file: str | None) -> str:
    """The given date, or for a scheduled run, today in the paper's own time zone."""
    if date:
        return parse_date(date).isoformat()
    return dt.datetime.now(ZoneInfo(get_paper(paper, papers_file).timezone)).date().isoformat()


def _run_name() -> str:
    params = flow_run.parameters
    return (
        f"{params['paper']} "
        f"{edition_date(params['paper'], params.get('date'), params.get('papers_file'))}"
    )


@flow(name="archive-edition", flow_run_name=_run_name)
def archive_edition(paper: str, date: str | None = None, papers_file: str | None = None) -> dict:
    get_paper(paper, papers_file)  # fail fast, naming the paper, before any work
    date = edition_date(paper, date, papers_file)
    # Reach the archive before crawling: a bad S3 setting fails in seconds, not after the crawl.
    # Without EPAPER_S3_ENDPOINT this starts the embedded server once for the whole run.
    with open_archive(), edition_workdir(paper, date) as workdir:
        with tags(site_tag(paper)), host_slot(paper, date, papers_file):
            stats = fetch(paper, date, papers_file, workdir)
        reason = steps.missing_reason(workdir)
        if reason:
            create_markdown_artifact(
                key=f"edition-{paper}-{date}",
                description=f"{paper} {date}: no edition",
                markdown=f"### {paper} {date}: no edition\n\n{reason}\n",
            )
            return {"paper": paper, "date": date, "status": "missing", "reason": reason}
        clean(workdir)
        dedupe(workdir)
        result = publish(workdir, paper, date, stats)
        report(result, workdir)
    if result.get("checks"):
        raise EditionIncomplete(result)
    return result
