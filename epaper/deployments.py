"""Prefect in production: prefect.yaml rendered from papers.yaml, and the server-side setup.

`epaper deployments [--papers FILE] [-o PATH]` writes prefect.yaml (one scheduled deployment
per paper, one for backfills and a daily site-health run) into the current folder;
`epaper deployments --check` (and a test) fails when the two have drifted apart.
`epaper setup-prefect` creates the work pool, the concurrency limits the flow relies on, and
the automation that marks killed runs Crashed.

A paper no family fits (`family: none` in its current era) gets no deployment: its runs
could only fail. `unfit` names them, for the command to say so.
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import suppress
from pathlib import Path

import yaml

from papers.catalogue import Paper, load_papers, read_papers

# Where the flows are (the repo, /app in the image): entrypoints are relative to it.
PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFECT_YAML = PROJECT_DIR / "prefect.yaml"
WORK_POOL = "epaper"
# A flow run sends a heartbeat every PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds (Prefect's
# default 180); one silent for three of them was killed (SIGKILL, a lost machine or
# container) and stays "Running" for ever unless an automation marks it Crashed.
CRASH_AFTER = 600
ZOMBIE_AUTOMATION = "epaper: crash flow runs whose heartbeat stopped"
# Daily, once the morning papers' runs are done: a site that changed overnight shows at once.
HEALTH_CRON, HEALTH_TIMEZONE = "0 9 * * *", "Asia/Shanghai"
DEFAULT_QUEUE = "default"  # the pool's own queue: papers alone on their host, backfills
HEADER = "# Generated from papers.yaml by `epaper deployments`; edit papers.yaml, not this file.\n"


def unfit(papers: dict[str, Paper]) -> list[str]:
    """The papers whose current era no family fits: listed, never scheduled."""
    return [paper.id for paper in papers.values() if not paper.eras[-1].fits]


def render(
    papers: dict[str, Paper], papers_file: str | None = None, folder: Path = PROJECT_DIR
) -> str:
    """prefect.yaml for `papers`, to be written into `folder`. With `papers_file` (`--papers`),
    the deployments of its papers and the backfill's carry it as a default parameter."""
    own = set(read_papers(papers_file)) if papers_file else set()
    skipped = set(unfit(papers))
    loads = host_loads(papers)
    file_parameter = {"papers_file": str(Path(papers_file).resolve())} if papers_file else {}

    def entrypoint(path: str) -> str:
        # Outside the project folder `prefect deploy` finds the flows only by a full path.
        return path if Path(folder).resolve() == PROJECT_DIR else str(PROJECT_DIR / path)

    document = {
        "name": "epaper-archive",
        "prefect-version": "3.8.8",
        "build": None,
        "push": None,
        "pull": [{"epaper.deployments.enter_project": {}}],
        "deployments": [
            {
                "name": paper.id,
                "description": f"{paper.name} ({paper.region})" if paper.region else paper.name,
                "entrypoint": entrypoint("flows/archive.py:archive_edition"),
                "parameters": {"paper": paper.id, **(file_parameter if paper.id in own else {})},
                "tags": [f"paper:{paper.id}"],
                "work_pool": {"name": WORK_POOL, "work_queue_name": work_queue(loads[paper.id])},
                "schedules": [{"cron": paper.schedule, "timezone": paper.timezone}],
            }
            for paper in papers.values()
            if paper.id not in skipped
        ]
        + [
            {
                # Started by hand (UI or `prefect deployment run backfill/backfill --param …`).
                "name": "backfill",
                "description": (
                    "every edition of one paper over a date range (parameters paper, start, end)"
                ),
                "entrypoint": entrypoint("flows/backfill.py:backfill"),
                "parameters": file_parameter,
                "work_pool": {"name": WORK_POOL},
                "schedules": [],  # said outright: `prefect deploy` at a terminal would ask
            },
            {
                "name": "health",
                "description": (
                    "site health of every paper: last complete edition, missed and "
                    "incomplete editions, article counts (a table artifact)"
                ),
                "entrypoint": entrypoint("flows/health.py:site_health"),
                "parameters": dict(file_parameter),  # a copy: one shared dict is a YAML alias
                "work_pool": {"name": WORK_POOL},
                "schedules": [{"cron": HEALTH_CRON, "timezone": HEALTH_TIMEZONE}],
            },
        ],
    }
    return HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def drifted(path: Path = PREFECT_YAML, papers_file: str | None = None) -> bool:
    expected = render(load_papers(papers_file), papers_file, path.parent)
    return not path.exists() or path.read_text(encoding="utf-8") != expected


def write(path: Path = PREFECT_YAML, papers_file: str | None = None) -> None:
    path.write_text(render(load_papers(papers_file), papers_file, path.parent), encoding="utf-8")


def enter_project() -> dict[str, str]:
    """The deployments' pull step. A process worker starts each flow run in a fresh temporary
    folder; the flow code is where this package is installed from (the repo, /app in the image).
    EPAPER_HOME, unless the worker sets it, is the CLI's default: runs and commands share one
    archive."""
    from papers.home import settle_home

    settle_home()
    os.chdir(PROJECT_DIR)
    return {"directory": str(PROJECT_DIR)}


def setup_prefect(
    papers: dict[str, Paper], fetch_limit: int | None = None, crash_after: int = CRASH_AFTER
) -> list[str]:
    """Create the process work pool (kept as is if it exists), the per-host politeness limits
    of `papers` (one crawl of a host at a time; a limit an operator changed is kept), the cap
    on crawls across all hosts when `fetch_limit` is given (0 removes it; None leaves it as
    it is), and the automation that marks a flow run Crashed after `crash_after` seconds
    without a heartbeat. Returns what it did."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from flows.archive import FETCH_CAP, FETCH_TAG, HOST_LIMIT, ensure_host_limit, site_tag

    done = []
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(
                WorkPoolCreate(
                    name=WORK_POOL,
                    type=ProcessWorker.type,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            done.append(f"work pool {WORK_POOL!r} ({ProcessWorker.type}) created")
        except ObjectAlreadyExists:
            done.append(f"work pool {WORK_POOL!r} exists")
        queues = queues_by_priority(papers)
        for priority, queue in enumerate(queues, 1):
            ensure_work_queue(client, queue, priority)
        done.append(f"work queues, first served first: {', '.join(queues)}")
        # The tag limits of earlier versions (a global 4, one per paper) would still hold the
        # fetch task, polling every 30 s: the host limits replace them.
        for tag in [FETCH_TAG, *(site_tag(paper_id) for paper_id in papers)]:
            with suppress(ObjectNotFound):
                client.delete_concurrency_limit_by_tag(tag)
        hosts = sorted(hosts_of(papers))
        created = sum(ensure_host_limit(client, host) for host in hosts)
        done.append(
            f"concurrency limit {HOST_LIMIT} per host on {len(hosts)} hosts "
            f"('host:<hostname>', {created} new; runs create those of other hosts)"
        )
        if fetch_limit == 0:
            with suppress(ObjectNotFound):
                client.delete_global_concurrency_limit_by_name(FETCH_CAP)
            done.append(f"no cap on crawls across hosts ({FETCH_CAP!r} removed)")
        elif fetch_limit:
            client.upsert_global_concurrency_limit_by_name(FETCH_CAP, fetch_limit)
            done.append(f"concurrency limit {FETCH_CAP!r}: {fetch_limit} crawls across all hosts")
        for old in client.read_automations_by_name(
            ZOMBIE_AUTOMATION
        ):  # replaced: its window may change
            client.delete_automation(old.id)
        client.create_automation(zombie_automation(crash_after))
        done.append(f"automation {ZOMBIE_AUTOMATION!r}: after {crash_after} s without a heartbeat")
    return done


def host_of(paper: Paper) -> str:
    from urllib.parse import urlsplit

    return urlsplit(paper.eras[-1].edition_url).hostname or ""


def hosts_of(papers: dict[str, Paper]) -> set[str]:
    """The hosts the papers' current eras are crawled from (where a family fits)."""
    return {host_of(paper) for paper in papers.values() if paper.eras[-1].fits}


def host_loads(papers: dict[str, Paper]) -> dict[str, int]:
    """{paper id: how many of the scheduled papers its host carries, itself included}."""
    fit = [paper for paper in papers.values() if paper.eras[-1].fits]
    per_host = Counter(host_of(paper) for paper in fit)
    return {paper.id: per_host[host_of(paper)] for paper in fit}


def work_queue(load: int) -> str:
    """The queue of a paper whose host carries `load` papers. A host of k papers needs k
    crawls one after the other each morning, the longest chain of the batch: its papers'
    runs are started first (longest first), so it is not left waiting for a slot while
    hosts of one paper take them."""
    return DEFAULT_QUEUE if load == 1 else f"host-of-{load}"


def queues_by_priority(papers: dict[str, Paper]) -> list[str]:
    """The work queues `papers` use, the busiest hosts' first, the default queue last."""
    loads = sorted({load for load in host_loads(papers).values() if load > 1}, reverse=True)
    return [work_queue(load) for load in loads] + [DEFAULT_QUEUE]


def ensure_work_queue(client, name: str, priority: int) -> None:
    """The pool's queue `name` at `priority` (1 first): made, or its priority set. Prefect
    moves the queues after it down one to keep priorities distinct."""
    from prefect.exceptions import ObjectAlreadyExists

    try:
        client.create_work_queue(name=name, work_pool_name=WORK_POOL, priority=priority)
    except ObjectAlreadyExists:
        queue = client.read_work_queue_by_name(name, work_pool_name=WORK_POOL)
        if queue.priority != priority:
            client.update_work_queue(queue.id, priority=priority)


def zombie_automation(crash_after: int):
    """Prefect's recipe for zombie flow runs (docs: "detect zombie flows")."""
    from datetime import timedelta

    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=ZOMBIE_AUTOMATION,
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=crash_after),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"no heartbeat for {crash_after} s: the run's process died",
            )
        ],
    )
