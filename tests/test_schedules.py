"""Cron schedules fire: a real `prefect server start` schedules runs of a deployment with
the cron "* * * * *" and a real process worker completes one. With SQLAlchemy 2.1 beside
Prefect 3.8 the scheduler failed every loop and no run was ever created (tests/test_pins.py
keeps that pair out of the lock)."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from epaper import deployments
from replica import ReplicaServer, build_site
from storage.archive import open_archive
from tests.prefect_server import PrefectServer, stop

EVERY_MINUTE = "* * * * *"
ENDED = ("COMPLETED", "FAILED", "CRASHED")


@pytest.mark.timeout(420)
def test_a_cron_deployment_gets_scheduled_runs_and_a_worker_completes_one(archive_env, tmp_path):
    # A scheduled run archives today's edition in the paper's time zone.
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    site = build_site("founder-new", "bcrb", [today, today - dt.timedelta(days=1)], pages=2)
    # The scheduler looks every second rather than every minute.
    with (
        ReplicaServer([site]) as replica,
        PrefectServer(
            tmp_path / "prefect", PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="1"
        ) as server,
    ):
        folder = tmp_path / "mine"  # the user's own folder, papers file and prefect.yaml
        folder.mkdir()
        entry = {**site.paper_entry(replica.base_url), "schedule": EVERY_MINUTE}
        (folder / "papers.yaml").write_text(
            yaml.safe_dump([entry], allow_unicode=True), encoding="utf-8"
        )
        for command in (
            ["epaper", "setup-prefect", "--papers", "papers.yaml"],
            ["epaper", "deployments", "--papers", "papers.yaml"],
            ["prefect", "deploy", "--name", "archive-edition/bcrb"],
        ):
            done = server.run(*command, cwd=folder)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

        api = httpx.Client(base_url=server.url, timeout=30)
        deployment = api.get("/deployments/name/archive-edition/bcrb").json()
        papers_file = str(folder / "papers.yaml")
        assert deployment["parameters"] == {"paper": "bcrb", "papers_file": papers_file}
        scheduled = wait_for_runs(api, deployment["id"], lambda runs: len(runs) >= 2, timeout=60)
        starts = sorted(dt.datetime.fromisoformat(run["expected_start_time"]) for run in scheduled)
        assert all(run["auto_scheduled"] for run in scheduled)
        assert all(start.second == 0 for start in starts)
        assert starts[1] - starts[0] == dt.timedelta(minutes=1)

        worker = server.spawn(
            "worker",
            ["prefect", "worker", "start", "--pool", deployments.WORK_POOL, "--limit", "1"],
            **{**archive_env, "EPAPER_HOME": str(tmp_path / "worker")},
            EPAPER_DOWNLOAD_DELAY="0",
            PREFECT_WORKER_QUERY_SECONDS="1",
        )
        try:
            runs = wait_for_runs(
                api,
                deployment["id"],
                lambda runs: any(run["state_type"] in ENDED for run in runs),
                timeout=150,
            )
        finally:
            stop(worker)
    [ended] = [run for run in runs if run["state_type"] in ENDED]
    assert ended["state_type"] == "COMPLETED", ended["state"]
    assert ended["name"] == f"bcrb {today}" and ended["auto_scheduled"]
    with open_archive() as archive:
        manifest = json.loads(archive.get(f"editions/bcrb/{today}/manifest.json"))
    news = [a for a in site.truth(today)["articles"] if a["kind"] == "news"]
    assert len(manifest["articles"]) == len(news)


def wait_for_runs(api: httpx.Client, deployment_id: str, done, timeout: float) -> list[dict]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}}
    deadline = time.monotonic() + timeout
    while True:
        runs = api.post("/flow_runs/filter", json=body).json()
        if done(runs) or time.monotonic() > deadline:
            return runs
        time.sleep(1)
