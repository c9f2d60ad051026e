"""Prefect in production, without Docker: `prefect server start` on the local PostgreSQL, two
process workers on one pool, one SeaweedFS and the dedupe catalog on PostgreSQL; editions of
two replica papers triggered through their deployments."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
import uuid
from collections import defaultdict
from datetime import date

import httpx
import psycopg
import pytest
import yaml

from epaper import deployments
from flows.backfill import backfill
from papers.catalogue import read_papers
from replica import ReplicaServer, build_site
from storage.archive import open_archive
from storage.catalog import Catalog
from tests.prefect_server import PrefectServer, free_port, stop

DAYS = [date(2025, 4, 27), date(2025, 4, 28), date(2025, 4, 29)]
POSTGRES = "postgres@127.0.0.1:5432"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def replica_sites():
    # The demo's two founder-new papers: the same days, so they reprint each other's wire stories.
    return [
        build_site("founder-new", "bcrb", DAYS, skin="swiper"),
        build_site("founder-new", "shrb", DAYS, skin="chunkicon", node="A01", content_dir="con"),
    ]


def write_papers(sites, base_url: str, path) -> str:
    path.write_text(
        yaml.safe_dump([s.paper_entry(base_url) for s in sites], allow_unicode=True),
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def databases():
    """Two fresh PostgreSQL databases: Prefect's and the dedupe catalog's."""
    names = [f"epaper_workers_{uuid.uuid4().hex[:10]}_{use}" for use in ("prefect", "catalog")]
    with psycopg.connect(f"postgresql://{POSTGRES}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"CREATE DATABASE {name}")
    yield (
        f"postgresql+asyncpg://{POSTGRES}/{names[0]}",
        f"postgresql+psycopg://{POSTGRES}/{names[1]}",
    )
    with psycopg.connect(f"postgresql://{POSTGRES}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def api_client(server: PrefectServer):
    from prefect.client.orchestration import SyncPrefectClient

    return SyncPrefectClient(server.url)


def wait_for(client, run_ids: list, timeout: float) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    while True:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids))
        )
        if all(run.state_type.value in TERMINAL for run in runs) or time.monotonic() > deadline:
            return runs
        time.sleep(2)


def overlaps(a, b) -> bool:
    return a.start_time < b.end_time and b.start_time < a.end_time


def partition(clusters: dict[str, str]) -> set[frozenset[str]]:
    """Articles grouped by cluster, whatever each cluster's id."""
    groups = defaultdict(set)
    for key, cluster in clusters.items():
        groups[cluster].add(key)
    return {frozenset(group) for group in groups.values()}


@pytest.mark.timeout(420)
def test_two_workers_archive_every_article_once_with_the_clusters_of_a_serial_run(
    archive_env, databases, tmp_path
):
    prefect_db, catalog_url = databases
    sites = replica_sites()
    with (
        ReplicaServer(sites) as replica,
        PrefectServer(
            tmp_path / "prefect",
            database_url=prefect_db,
            # Short waits: a fetch refused a slot asks again soon, workers poll every second.
            PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS="1",
            PREFECT_WORKER_QUERY_SECONDS="1",
        ) as server,
    ):
        papers_file = write_papers(sites, replica.base_url, tmp_path / "papers.yaml")
        prefect_yaml = tmp_path / "prefect.yaml"
        prefect_yaml.write_text(
            deployments.render(read_papers(papers_file), papers_file), encoding="utf-8"
        )
        setup = server.run("epaper", "setup-prefect", "--papers", papers_file, "--fetch-limit", "2")
        assert setup.returncode == 0, setup.stderr
        deploy = server.run("prefect", "deploy", "--all", "--prefect-file", str(prefect_yaml))
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]

        # One S3 server and one catalog for all: a worker must not start an embedded SeaweedFS.
        worker_env = {
            **archive_env,
            "EPAPER_CATALOG_URL": catalog_url,
            "EPAPER_DOWNLOAD_DELAY": "0",
            "EPAPER_HOME": str(tmp_path / "workers"),
        }
        names, health = ["worker-1", "worker-2"], [free_port(), free_port()]
        # --with-healthcheck as in docker-compose.yml, each worker on a port of its own.
        workers = [
            server.spawn(
                name,
                [
                    "prefect",
                    "worker",
                    "start",
                    "--pool",
                    deployments.WORK_POOL,
                    "--name",
                    name,
                    "--limit",
                    "1",
                    "--with-healthcheck",
                ],
                **worker_env,
                PREFECT_WORKER_WEBSERVER_HOST="127.0.0.1",
                PREFECT_WORKER_WEBSERVER_PORT=str(port),
            )
            for name, port in zip(names, health)
        ]
        try:
            with api_client(server) as client:
                editions = [(site.paper, day.isoformat()) for site in sites for day in DAYS]
                run_ids = [
                    client.create_flow_run_from_deployment(
                        client.read_deployment_by_name(f"archive-edition/{paper}").id,
                        parameters={"date": day},
                    ).id
                    for paper, day in editions
                ]
                runs = wait_for(client, run_ids, timeout=300)
                assert [run.state_type.value for run in runs] == ["COMPLETED"] * len(runs), [
                    (run.name, run.state.message) for run in runs
                ]
                check_runs_tasks_and_artifacts(client, runs, editions)
            assert [
                httpx.get(f"http://127.0.0.1:{port}/health").status_code for port in health
            ] == [200, 200]
            # A run is Completed in the API before its last lines reach the worker's log.
            deadline = time.monotonic() + 60
            while len(set(itertools.chain(*ran_on(names, runs, tmp_path).values()))) < len(runs):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        finally:
            for worker in workers:
                stop(worker)
        # Each run ran on one worker (its output streams to that worker's log), and both took runs.
        ran = ran_on(names, runs, tmp_path)
        assert all(ran.values()) and sorted(itertools.chain(*ran.values())) == sorted(
            run.name for run in runs
        ), ran

    articles = check_archived_once(sites, editions)
    check_clusters_as_serial(articles, editions, catalog_url, tmp_path)
    span = max(run.end_time for run in runs) - min(run.start_time for run in runs)
    print(
        f"\n{len(runs)} edition runs on 2 workers: {len(articles)} articles "
        f"in {span.total_seconds():.0f} s"
    )


def ran_on(names: list[str], runs, tmp_path) -> dict[str, set[str]]:
    """Per worker, the runs its log shows finishing."""
    return {
        name: {
            run.name
            for run in runs
            if f"Flow run '{run.name}' - Finished in state Completed"
            in (tmp_path / "prefect" / f"{name}.log").read_text(errors="replace")
        }
        for name in names
    }


def check_runs_tasks_and_artifacts(client, runs, editions) -> None:
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    assert sorted(run.name for run in runs) == sorted(f"{paper} {day}" for paper, day in editions)
    assert any(overlaps(a, b) for a, b in itertools.combinations(runs, 2)), (
        "the two workers ran side by side"
    )

    # The per-site limit: two runs of one paper were live at once, yet their crawls never
    # overlapped.
    tasks = client.read_task_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[r.id for r in runs]))
    )
    by_run = defaultdict(dict)
    for task_run in tasks:
        by_run[task_run.flow_run_id][task_run.name.split()[0]] = task_run
    for run in runs:
        assert sorted(by_run[run.id]) == ["clean", "dedupe", "fetch", "publish", "report"]
        for step, task_run in by_run[run.id].items():
            assert (
                task_run.name == f"{step} {run.name}" and task_run.state_type.value == "COMPLETED"
            )
        assert set(by_run[run.id]["fetch"].tags) >= {"fetch", f"site:{run.name.split()[0]}"}
    same_paper = [
        (a, b) for a, b in itertools.combinations(runs, 2) if a.name.split()[0] == b.name.split()[0]
    ]
    assert any(overlaps(a, b) for a, b in same_paper), "two runs of one paper were live at once"
    for a, b in same_paper:
        assert not overlaps(by_run[a.id]["fetch"], by_run[b.id]["fetch"]), (a.name, b.name)

    artifacts = client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs])
        )
    )
    by_key = {artifact.key: artifact for artifact in artifacts}
    for run in runs:
        paper, day = run.name.split()
        table, summary = by_key[f"edition-{paper}-{day}"], by_key[f"dedupe-{paper}-{day}"]
        assert (table.type, table.flow_run_id, summary.type, summary.flow_run_id) == (
            "table",
            run.id,
            "markdown",
            run.id,
        )
        rows = json.loads(table.data) if isinstance(table.data, str) else table.data
        with open_archive() as archive:
            manifest = json.loads(archive.get(f"editions/{paper}/{day}/manifest.json"))
            assert [r["key"] for r in rows if r["item"] == "article"] == [
                a["key"] for a in manifest["articles"]
            ]
            assert [r["key"] for r in rows if r["item"] == "page"] == [
                p["pdf_key"] for p in manifest["pages"]
            ]
            for row in (r for r in rows if r["item"] == "article"):
                canonical = json.loads(archive.get(row["key"]))["dedupe"]["canonical"]
                assert (
                    row["duplicate"] == "first seen"
                    if canonical == row["key"]
                    else canonical in row["duplicate"]
                )
        assert f"### {paper} {day}: dedupe" in summary.data


def check_archived_once(sites, editions) -> dict[str, dict]:
    """Every news article of the replica is archived, each under one key with one version."""
    expected = sum(
        1
        for site in sites
        for day in DAYS
        for a in site.truth(day)["articles"]
        if a["kind"] == "news"
    )
    with open_archive() as archive:
        listed = [
            a
            for paper, day in editions
            for a in json.loads(archive.get(f"editions/{paper}/{day}/manifest.json"))["articles"]
        ]
        keys = list(archive.list("articles/"))
        assert len(listed) == len(keys) == len({a["key"] for a in listed}) == expected
        assert set(keys) == {a["key"] for a in listed}
        assert all(len(archive.versions(key)) == 1 for key in keys)
        return {key: json.loads(archive.get(key)) for key in keys}


def check_clusters_as_serial(
    articles: dict[str, dict], editions, catalog_url: str, tmp_path
) -> None:
    """The clusters the workers built concurrently on PostgreSQL are those of one edition after
    the other: the same articles replayed in that order into a fresh catalog."""
    concurrent = {key: article["dedupe"]["cluster"] for key, article in articles.items()}
    serial = {}
    with Catalog(f"sqlite:///{tmp_path / 'serial.sqlite'}") as catalog:
        for paper, day in editions:
            for key in sorted(k for k in articles if k.startswith(f"articles/{paper}/{day}/")):
                article = articles[key]
                serial[key] = catalog.assign(key, paper, day, article["text"])["cluster"]
    assert partition(concurrent) == partition(serial)
    assert any(len({key.split("/")[1] for key in group}) == 2 for group in partition(concurrent)), (
        "the papers reprint each other's wire stories"
    )
    with Catalog(catalog_url) as shared:  # the shared catalog agrees with what was archived
        for key, cluster in concurrent.items():
            assert {m["key"] for m in shared.cluster_of(key)} == {
                k for k, c in concurrent.items() if c == cluster
            }


def test_backfill_shows_progress_and_a_run_per_edition(
    archive_env, prefect_api, tmp_path, monkeypatch
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )

    monkeypatch.setenv("EPAPER_DOWNLOAD_DELAY", "0")
    # Day 1 archives, day 2's edition page answers 500 (a failed run), day 3 has no edition.
    site = build_site("founder-new", "bcrb", DAYS[:2], skin="swiper")
    site.set_faults({site.url_for(DAYS[1]): 500})
    first, last = DAYS[0], DAYS[1] + dt.timedelta(days=1)
    with ReplicaServer([site]) as replica:
        papers_file = write_papers([site], replica.base_url, tmp_path / "papers.yaml")
        state = backfill(
            site.paper, first.isoformat(), last.isoformat(), papers_file, return_state=True
        )
    assert state.is_failed(), "a backfill with a failed edition ends Failed"
    results = state.result(raise_on_failure=False).results
    assert [r["status"] for r in results] == ["complete", "failed", "missing"], (
        "a failed date does not stop the rest"
    )
    assert "500" in results[1]["reason"]
    with get_client(sync_client=True) as client:
        parent = client.read_flow_run(state.state_details.flow_run_id)
        assert parent.name == f"bcrb {first}..{last}"
        editions = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
        assert sorted(run.name for run in editions) == [
            f"bcrb {first}",
            f"bcrb {DAYS[1]}",
            f"bcrb {last}",
        ]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[parent.id]))
        )
    assert [a.data for a in artifacts if a.type == "progress"] == [100.0]
    [summary] = [a for a in artifacts if a.type == "table"]
    assert summary.key == f"backfill-bcrb-{first}-{last}"
    assert re.search(r"complete.*editions/bcrb/.*failed.*missing", json.dumps(summary.data))
